"""A circular replay buffer of preallocated tensors on the training device.

Insert and sample are O(1) tensor ops: no Python object is kept per transition.
"""
from __future__ import annotations

import numpy as np
import torch

from keelrl.device import available_memory, human_bytes
from keelrl.errors import KeelError
from keelrl.types import Batch, HybridAction, Spaces


def check_fits(nbytes: int, device: torch.device, what: str, fix: str) -> None:
    """Refuse, in one line, to allocate more than the device has available (leaving a tenth for the rest)."""
    have = available_memory(device)
    if nbytes > 0.9 * have:
        raise KeelError(f"{what} needs {human_bytes(nbytes)} of {device.type} memory and {human_bytes(have)} "
                        f"is available: {fix}")


class ReplayBuffer:
    """Transitions (s, a, r, s', terminated[, discount]).

    act_dim=None stores discrete actions as int64 [capacity]; with_discount=True adds the column of
    per-transition bootstrap discounts that n-step transitions need (see data/nstep.py); param_dim=P
    (with act_dim=None) stores hybrid actions: the discrete index and the P parameters [capacity, P],
    and policy_action_dim=D the vector the policy emitted for each of them [capacity, D]
    (`Batch.policy_action`). Hybrid actions are added as one `HybridAction`.
    """

    def __init__(self, capacity: int, obs_dim: int, act_dim: int | None, device: torch.device | str = "cpu",
                 seed: int = 0, with_discount: bool = False, param_dim: int | None = None,
                 policy_action_dim: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"buffer capacity must be >= 1, got {capacity}")
        self.capacity, self.device = capacity, torch.device(device)
        if param_dim is not None and act_dim is not None:
            raise ValueError("hybrid actions store a discrete index: act_dim must be None with param_dim")
        if policy_action_dim and param_dim is None:
            raise ValueError("policy_action_dim is for hybrid actions: give param_dim too")
        check_fits(self.nbytes(capacity, obs_dim, act_dim, with_discount, param_dim, policy_action_dim), self.device,
                   f"a replay buffer of {capacity:,} transitions", "lower --buffer-size")
        d = self.device
        self.obs = torch.zeros(capacity, obs_dim, device=d)
        self.action = (torch.zeros(capacity, dtype=torch.int64, device=d) if act_dim is None
                       else torch.zeros(capacity, act_dim, device=d))
        self.reward = torch.zeros(capacity, device=d)
        self.next_obs = torch.zeros(capacity, obs_dim, device=d)
        self.terminated = torch.zeros(capacity, device=d)
        self.discount = torch.zeros(capacity, device=d) if with_discount else None
        self.params = torch.zeros(capacity, param_dim, device=d) if param_dim is not None else None
        self.policy_action = torch.zeros(capacity, policy_action_dim, device=d) if policy_action_dim else None
        self._fields = (("obs", "action", "reward", "next_obs", "terminated") + (("discount",) if with_discount else ())
                        + (("params",) if param_dim is not None else ())
                        + (("policy_action",) if policy_action_dim else ()))
        self.ptr, self.size = 0, 0
        self.generator = torch.Generator(device=d)
        self.generator.manual_seed(seed)

    @staticmethod
    def nbytes(capacity: int, obs_dim: int, act_dim: int | None, with_discount: bool = False,
               param_dim: int | None = None, policy_action_dim: int = 0) -> int:
        """The memory the buffer's tensors take: float32 observations twice, actions, reward, flags."""
        per = 4 * (2 * obs_dim + 2 + (1 if with_discount else 0)) + (8 if act_dim is None else 4 * act_dim)
        return capacity * (per + 4 * (param_dim or 0) + 4 * policy_action_dim)

    @classmethod
    def for_spaces(cls, capacity: int, spaces: Spaces, device: torch.device | str = "cpu", seed: int = 0,
                   with_discount: bool = False, policy_action_dim: int = 0) -> "ReplayBuffer":
        """A buffer for flat observations and the action space's actions (int64 indices for Discrete;
        the index and the parameters for hybrid actions, and the policy's vector when
        `policy_action_dim` > 0)."""
        if spaces.hybrid:
            return cls(capacity, spaces.obs_dim, None, device, seed, with_discount, param_dim=spaces.param_dim,
                       policy_action_dim=policy_action_dim)
        return cls(capacity, spaces.obs_dim, None if spaces.discrete else spaces.act_dim, device, seed, with_discount)

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, terminated, discount=None) -> None:
        """Insert N transitions at once (leading dim N, e.g. one per vector-env copy); hybrid actions
        as one HybridAction (indices [N], parameters [N, P], the policy's vectors [N, D] or None)."""
        hybrid = isinstance(action, HybridAction)
        if hybrid != (self.params is not None):
            raise ValueError("this buffer stores hybrid actions: add() takes a HybridAction" if self.params is not None
                             else "this buffer does not store hybrid actions")
        if hybrid:
            action, params, policy_action = action
        obs = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        n = obs.shape[0]
        idx = (self.ptr + torch.arange(n, device=self.device)) % self.capacity
        self.obs[idx] = obs
        self.action[idx] = torch.as_tensor(np.asarray(action), dtype=self.action.dtype, device=self.device)
        self.reward[idx] = torch.as_tensor(np.asarray(reward), dtype=torch.float32, device=self.device)
        self.next_obs[idx] = torch.as_tensor(np.asarray(next_obs), dtype=torch.float32, device=self.device)
        self.terminated[idx] = torch.as_tensor(np.asarray(terminated), dtype=torch.float32, device=self.device)
        if self.discount is not None:
            self.discount[idx] = torch.as_tensor(np.asarray(discount), dtype=torch.float32, device=self.device)
        if hybrid:
            self.params[idx] = torch.as_tensor(np.asarray(params), dtype=torch.float32, device=self.device)
            if (policy_action is None) != (self.policy_action is None):
                raise ValueError("this buffer stores the policy's vector of each hybrid action" if policy_action is None
                                 else "this buffer does not store the policy's vectors (policy_action_dim = 0)")
            if policy_action is not None:
                self.policy_action[idx] = torch.as_tensor(np.asarray(policy_action), dtype=torch.float32,
                                                          device=self.device)
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """Uniform sample with replacement of `batch_size` stored transitions."""
        idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=self.generator)
        return Batch(self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx], self.terminated[idx],
                     None if self.discount is None else self.discount[idx],
                     None if self.params is None else self.params[idx],
                     None if self.policy_action is None else self.policy_action[idx])

    def state_dict(self) -> dict:
        """Only the filled part is saved, so a checkpoint grows with the data, not the capacity."""
        n = self.size
        return {
            "capacity": self.capacity, "ptr": self.ptr, "size": n,
            "generator": self.generator.get_state(),
            **{f: getattr(self, f)[:n].cpu().clone() for f in self._fields},
        }

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"checkpoint buffer capacity {state['capacity']} != configured {self.capacity}")
        n = state["size"]
        for f in self._fields:
            getattr(self, f)[:n] = state[f].to(self.device)
        self.ptr, self.size = state["ptr"], n
        self.generator.set_state(state["generator"])
