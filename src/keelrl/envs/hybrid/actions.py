"""Hybrid (parameterized) actions between a policy and an environment.

An environment takes `(k, params)`: the discrete index k and the parameters of every discrete
action, P floats, of which action k reads its slice `param_slices[k]`; a vector environment takes the
batched form `(indices [N], params [N, P])`. A policy that emits one flat vector per state emits
`[K scores | P parameters]`; `from_flat` and `to_flat` convert between the two forms.
"""
from __future__ import annotations

import numpy as np
import torch

from keelrl.envs.action_bounds import ActionBounds
from keelrl.types import HybridAction, Spaces


def to_env(index: torch.Tensor | np.ndarray, params: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices [N], params [N, P]) as a gymnasium vector environment of Tuple(Discrete, Box) steps them."""
    index = index.detach().cpu().numpy() if isinstance(index, torch.Tensor) else np.asarray(index)
    params = params.detach().cpu().numpy() if isinstance(params, torch.Tensor) else np.asarray(params)
    return index.astype(np.int64), params.astype(np.float32)


def from_flat(flat: torch.Tensor, num_actions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, K + P] -> (the index of the highest of the K scores [N], the P parameters [N, P])."""
    if flat.dim() != 2 or flat.shape[1] <= num_actions:
        raise ValueError(f"a flat hybrid action is [N, K + P] with K = {num_actions}, got {tuple(flat.shape)}")
    return flat[:, :num_actions].argmax(dim=1), flat[:, num_actions:]


def to_flat(index: torch.Tensor, params: torch.Tensor, num_actions: int) -> torch.Tensor:
    """(indices [N], params [N, P]) -> [N, K + P]: the index one-hot, then the parameters."""
    one_hot = torch.nn.functional.one_hot(index.long(), num_actions).to(params.dtype)
    return torch.cat([one_hot, params], dim=1)


def own_parameters(params: torch.Tensor, index: torch.Tensor, slices: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """The parameters each row's chosen action reads, the others zeroed: [N, P] (what multi-pass
    P-DQN feeds its Q-network for action k)."""
    mask = torch.zeros(len(slices), params.shape[1], dtype=params.dtype, device=params.device)
    for k, (start, stop) in enumerate(slices):
        mask[k, start:stop] = 1.0
    return params * mask[index.long()]


class HybridActions:
    """What a hybrid-action agent does at its edges: parameters between the policy's [-1, 1] and the
    environment's bounds, actions out in the vector environment's form, and the form a replay buffer
    stores (`to_policy_space`)."""

    def __init__(self, spaces: Spaces, device: torch.device | str = "cpu") -> None:
        self.num_actions, self.param_dim, self.slices = spaces.num_actions, spaces.param_dim, spaces.param_slices
        self.bounds = ActionBounds(spaces.param_low, spaces.param_high, device)

    def to_env(self, index: torch.Tensor, params: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(indices [N], parameters in [-1, 1] [N, P]) -> the environment's (indices, parameters in its bounds)."""
        return to_env(index, self.bounds.to_env(params.clamp(-1.0, 1.0)))

    def to_policy_space(self, env_action, policy_action: np.ndarray | None = None) -> HybridAction:
        """The environment's (indices [N], parameters [N, P]) as a replay buffer stores them."""
        index, params = env_action
        return HybridAction(np.asarray(index, np.int64), self.bounds.to_policy(params), policy_action)


def own_columns(slices: tuple[tuple[int, int], ...], param_dim: int) -> torch.Tensor:
    """[K, W] the columns of each action's parameters, W the widest slice; shorter slices are padded
    with the column P, which `chosen_params` reads as zero and `place_params` drops."""
    width = max(b - a for a, b in slices)
    cols = torch.full((len(slices), width), param_dim, dtype=torch.long)
    for k, (a, b) in enumerate(slices):
        cols[k, :b - a] = torch.arange(a, b)
    return cols


def chosen_params(params: torch.Tensor, index: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """x_k: the parameters of each row's chosen action, [N, P] -> [N, W] (zero-padded)."""
    padded = torch.cat([params, params.new_zeros(params.shape[0], 1)], 1)          # [N, P + 1]
    return padded.gather(1, columns[index.long()])                                  # [N, W]


def place_params(own: torch.Tensor, index: torch.Tensor, columns: torch.Tensor, param_dim: int) -> torch.Tensor:
    """The inverse of chosen_params: x_k [N, W] written at action k's columns of a zero [N, P]."""
    out = own.new_zeros(own.shape[0], param_dim + 1)
    out.scatter_(1, columns[index.long()], own)
    return out[:, :param_dim]
