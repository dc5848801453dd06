"""Hybrid (parameterized) actions between a policy and an environment.

An environment takes `(k, params)`: the discrete index k and the parameters of every discrete
action, P floats, of which action k reads its slice `param_slices[k]`; a vector environment takes the
batched form `(indices [N], params [N, P])`. A policy that emits one flat vector per state emits
`[K scores | P parameters]`; `from_flat` and `to_flat` convert between the two forms.
"""
from __future__ import annotations

import numpy as np
import torch


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
