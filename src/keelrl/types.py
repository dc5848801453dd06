"""Named tensors passed between data/, algos/ and train/, with their shape contract.

Shapes (B = batch size, O = observation dim, A = action dim):
    obs       [B, O]   float32
    action    [B, A]   float32, in the policy's space [-1, 1] (rescaled to the env's bounds on the way out);
              [B] int64 for discrete actions
    reward    [B]      float32
    next_obs  [B, O]   float32, the true next observation (for a truncated episode, the final one)
    terminated[B]      float32 in {0, 1}: 1 only when the MDP ended (no bootstrap); a time-limit
                       truncation is NOT a termination, so the target bootstraps through it.
    discount  [B]      float32 or None: the bootstrap discount γ^m of an m-step transition (n-step
                       returns); None means one-step transitions discounted by the algorithm's γ.

Spaces: the observation and action spaces an Agent is built for (`Agent(cfg, spaces, device)`),
whether they come from an environment or a dataset; `to_dict` / `from_dict` give a plain form that
checkpoints store.
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch


@dataclass(frozen=True)
class Batch:
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    discount: torch.Tensor | None = None

    def __post_init__(self) -> None:
        b = self.obs.shape[0]
        for name in ("action", "reward", "next_obs", "terminated"):
            t = getattr(self, name)
            if t.shape[0] != b:
                raise ValueError(f"Batch.{name} has leading size {t.shape[0]}, expected {b} like obs")
        if self.reward.dim() != 1 or self.terminated.dim() != 1:
            raise ValueError("Batch.reward and Batch.terminated must be 1-D [B] tensors")
        if self.obs.shape != self.next_obs.shape:
            raise ValueError(f"Batch.next_obs {tuple(self.next_obs.shape)} != obs {tuple(self.obs.shape)}")

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(*(None if getattr(self, f) is None else getattr(self, f).to(device)
                       for f in ("obs", "action", "reward", "next_obs", "terminated", "discount")))


@dataclass(frozen=True)
class Spaces:
    """The single-copy observation and action spaces of an environment or a dataset."""

    observation: gym.Space
    action: gym.Space

    @classmethod
    def of(cls, source) -> "Spaces":
        """The spaces of an environment, a vector environment (its single copy) or a dataset."""
        obs = getattr(source, "single_observation_space", None)
        act = getattr(source, "single_action_space", None)
        return cls(source.observation_space if obs is None else obs, source.action_space if act is None else act)

    @classmethod
    def box(cls, obs_dim: int, low, high) -> "Spaces":
        """Unbounded flat observations [O] and a continuous action Box [low, high]."""
        low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
        return cls(gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32), gym.spaces.Box(low, high, low.shape, np.float32))

    @property
    def obs_dim(self) -> int:
        """O, the length of a flat observation."""
        return int(self.observation.shape[0])

    @property
    def discrete(self) -> bool:
        return isinstance(self.action, gym.spaces.Discrete)

    @property
    def act_dim(self) -> int:
        """A, the length of a continuous action."""
        return int(self.action.shape[0])

    @property
    def num_actions(self) -> int:
        """K, the number of discrete actions."""
        return int(self.action.n)

    @property
    def action_low(self) -> np.ndarray:
        return np.asarray(self.action.low, dtype=np.float32)

    @property
    def action_high(self) -> np.ndarray:
        return np.asarray(self.action.high, dtype=np.float32)

    def shape_text(self) -> str:
        """'observations [O], actions Box [A]' or '... Discrete(K)', for messages."""
        act = f"Discrete({self.num_actions})" if self.discrete else f"Box [{self.act_dim}]"
        return f"observations {list(self.observation.shape)}, actions {act}"

    def to_dict(self) -> dict:
        """Plain lists, numbers and strings (what a checkpoint stores; no pickled space objects)."""
        return {"observation": space_to_dict(self.observation), "action": space_to_dict(self.action)}

    @classmethod
    def from_dict(cls, d: dict) -> "Spaces":
        return cls(space_from_dict(d["observation"]), space_from_dict(d["action"]))


def space_to_dict(space: gym.Space) -> dict:
    """A Box or Discrete space as plain values."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "low": np.asarray(space.low, np.float64).tolist(),
                "high": np.asarray(space.high, np.float64).tolist(), "shape": list(space.shape),
                "dtype": str(space.dtype)}
    raise ValueError(f"cannot store a {type(space).__name__} space; keelrl stores Box and Discrete spaces")


def space_from_dict(d: dict) -> gym.Space:
    if d["type"] == "Discrete":
        return gym.spaces.Discrete(d["n"], start=d["start"])
    if d["type"] == "Box":
        dtype = np.dtype(d["dtype"])
        return gym.spaces.Box(np.asarray(d["low"], dtype).reshape(d["shape"]),
                              np.asarray(d["high"], dtype).reshape(d["shape"]), tuple(d["shape"]), dtype)
    raise ValueError(f"unknown stored space type {d['type']!r}")
