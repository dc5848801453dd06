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
    params    [B, P]   float32 or None: hybrid (parameterized) actions only, the continuous parameters
                       of all K discrete actions, `action` then being the discrete index [B] int64;
                       action k reads its slice `Spaces.param_slices[k]` of them.
    policy_action [B, D] float32 or None: hybrid actions only, when the algorithm asks for it: the
                       continuous vector its policy emitted for the action (HyAR's latent action,
                       PA-DDPG's discrete scores and parameters), which its critic takes.

SequenceBatch: B sequences of T consecutive steps of one environment copy (SLAC's model, action
chunks), batch first:
    obs       [B, T+1, ...]  the observations of steps 0..T (the last is step T-1's next observation);
                             pixels are float32 with the stored uint8 values 0..255, not rescaled
    action    [B, T, A]      float32 in the policy's space [-1, 1]
    reward    [B, T]         float32
    terminated[B, T]         float32 in {0, 1}
    mask      [B, T]         float32 in {0, 1}: 1 where step t is a real step of the episode step 0
                             belongs to. A sequence never runs across an episode's end unmasked: the
                             steps after the episode's last are 0, whatever the slots behind them hold.

Spaces: the observation and action spaces an Agent is built for (`Agent(cfg, spaces, device)`),
whether they come from an environment or a dataset; `to_dict` / `from_dict` give a plain form that
checkpoints store. Hybrid actions are gymnasium `Tuple(Discrete(K), Box(P))`: a discrete choice and
the parameters of every choice, action k owning the slice `param_slices[k]` of the P parameters
(declared by the environment as `param_slices`, else an equal split).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

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
    params: torch.Tensor | None = None
    policy_action: torch.Tensor | None = None

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
        if self.params is not None and (self.params.dim() != 2 or self.params.shape[0] != b or self.action.dim() != 1):
            raise ValueError(f"a hybrid Batch has action [B] (the discrete index) and params [B, P]; got action "
                             f"{tuple(self.action.shape)}, params {tuple(self.params.shape)}")
        if self.policy_action is not None and (self.policy_action.dim() != 2 or self.policy_action.shape[0] != b):
            raise ValueError(f"Batch.policy_action must be [B, D], got {tuple(self.policy_action.shape)}")

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(*(None if getattr(self, f) is None else getattr(self, f).to(device)
                       for f in ("obs", "action", "reward", "next_obs", "terminated", "discount", "params",
                                 "policy_action")))

    def replace(self, **fields) -> "Batch":
        """This batch with some fields replaced (e.g. relabelled policy actions)."""
        return dataclasses.replace(self, **fields)


@dataclass(frozen=True)
class SequenceBatch:
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    terminated: torch.Tensor
    mask: torch.Tensor

    def __post_init__(self) -> None:
        if self.action.dim() < 2:
            raise ValueError(f"SequenceBatch.action must be [B, T, ...], got {tuple(self.action.shape)}")
        b, t = self.action.shape[:2]
        for name in ("reward", "terminated", "mask"):
            if tuple(getattr(self, name).shape) != (b, t):
                raise ValueError(f"SequenceBatch.{name} must be [B, T] = [{b}, {t}] like action, "
                                 f"got {tuple(getattr(self, name).shape)}")
        if tuple(self.obs.shape[:2]) != (b, t + 1):
            raise ValueError(f"SequenceBatch.obs must be [B, T+1, ...] = [{b}, {t + 1}, ...] (T steps and the "
                             f"last next observation), got {tuple(self.obs.shape)}")

    @property
    def length(self) -> int:
        """T, the steps of each sequence."""
        return int(self.action.shape[1])

    def to(self, device: torch.device | str) -> "SequenceBatch":
        return SequenceBatch(*(getattr(self, f).to(device) for f in ("obs", "action", "reward", "terminated", "mask")))


class HybridAction(NamedTuple):
    """Hybrid actions of N environment copies as a replay buffer stores them (an agent's
    `to_policy_space` of hybrid actions): the discrete indices [N], the parameters of every
    discrete action in the policy's space [-1, 1] [N, P], and, for algorithms that ask for it, the
    continuous vector the policy emitted [N, D]."""

    index: np.ndarray
    params: np.ndarray
    policy_action: np.ndarray | None = None


@dataclass(frozen=True)
class Spaces:
    """The single-copy observation and action spaces of an environment or a dataset."""

    observation: gym.Space
    action: gym.Space
    param_slices: tuple[tuple[int, int], ...] | None = None
    """Hybrid actions: (start, stop) of each discrete action's parameters (None otherwise)."""

    def __post_init__(self) -> None:
        if is_hybrid(self.action):
            k, p = int(self.action.spaces[0].n), int(self.action.spaces[1].shape[0])
            slices = self.param_slices if self.param_slices is not None else equal_split(k, p)
            object.__setattr__(self, "param_slices", tuple((int(a), int(b)) for a, b in slices))
            if len(self.param_slices) != k or not all(0 <= a <= b <= p for a, b in self.param_slices):
                raise ValueError(f"param_slices {self.param_slices} do not give each of the {k} discrete actions "
                                 f"a slice of the {p} parameters")

    @classmethod
    def of(cls, source) -> "Spaces":
        """The spaces of an environment, a vector environment (its single copy) or a dataset; a hybrid
        environment's parameter slices from its `param_slices` attribute, if it declares one."""
        obs = getattr(source, "single_observation_space", None)
        act = getattr(source, "single_action_space", None)
        act = source.action_space if act is None else act
        slices = None
        if is_hybrid(act):
            inner = source.envs[0] if hasattr(source, "envs") else source
            slices = getattr(getattr(inner, "unwrapped", inner), "param_slices", None)
        return cls(source.observation_space if obs is None else obs, act, slices)

    @property
    def hybrid(self) -> bool:
        """Tuple(Discrete(K), Box(P)) actions: a discrete choice and its continuous parameters."""
        return is_hybrid(self.action)

    @property
    def param_dim(self) -> int:
        """P, the number of parameters of all discrete actions together (hybrid actions)."""
        return int(self.action.spaces[1].shape[0])

    @property
    def param_low(self) -> np.ndarray:
        return np.asarray(self.action.spaces[1].low, dtype=np.float32)

    @property
    def param_high(self) -> np.ndarray:
        return np.asarray(self.action.spaces[1].high, dtype=np.float32)

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
        """K, the number of discrete actions (of a hybrid space too)."""
        return int(self.action.spaces[0].n if self.hybrid else self.action.n)

    @property
    def action_low(self) -> np.ndarray:
        return np.asarray(self.action.low, dtype=np.float32)

    @property
    def action_high(self) -> np.ndarray:
        return np.asarray(self.action.high, dtype=np.float32)

    def shape_text(self) -> str:
        """'observations [O], actions Box [A]' or '... Discrete(K)', for messages."""
        act = (f"Tuple(Discrete({self.num_actions}), Box [{self.param_dim}])" if self.hybrid else
               f"Discrete({self.num_actions})" if self.discrete else f"Box [{self.act_dim}]")
        return f"observations {list(self.observation.shape)}, actions {act}"

    def to_dict(self) -> dict:
        """Plain lists, numbers and strings (what a checkpoint stores; no pickled space objects)."""
        out = {"observation": space_to_dict(self.observation), "action": space_to_dict(self.action)}
        if self.hybrid:
            out["param_slices"] = [list(s) for s in self.param_slices]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Spaces":
        slices = d.get("param_slices")
        return cls(space_from_dict(d["observation"]), space_from_dict(d["action"]),
                   None if slices is None else tuple(tuple(s) for s in slices))


def is_hybrid(space: gym.Space) -> bool:
    """Whether `space` is Tuple(Discrete(K), Box(P)) with a 1-D Box."""
    return (isinstance(space, gym.spaces.Tuple) and len(space.spaces) == 2
            and isinstance(space.spaces[0], gym.spaces.Discrete) and isinstance(space.spaces[1], gym.spaces.Box)
            and len(space.spaces[1].shape) == 1)


def equal_split(k: int, p: int) -> tuple[tuple[int, int], ...]:
    """K discrete actions sharing P parameters equally (P divisible by K), else every action all P."""
    if p % k == 0:
        n = p // k
        return tuple((i * n, (i + 1) * n) for i in range(k))
    return tuple((0, p) for _ in range(k))


def space_to_dict(space: gym.Space) -> dict:
    """A Box, Discrete or hybrid Tuple(Discrete, Box) space as plain values."""
    if is_hybrid(space):
        return {"type": "Tuple", "spaces": [space_to_dict(s) for s in space.spaces]}
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "low": np.asarray(space.low, np.float64).tolist(),
                "high": np.asarray(space.high, np.float64).tolist(), "shape": list(space.shape),
                "dtype": str(space.dtype)}
    raise ValueError(f"cannot store a {type(space).__name__} space; keelrl stores Box, Discrete and hybrid "
                     f"Tuple(Discrete, Box) spaces")


def space_from_dict(d: dict) -> gym.Space:
    if d["type"] == "Tuple":
        return gym.spaces.Tuple(tuple(space_from_dict(s) for s in d["spaces"]))
    if d["type"] == "Discrete":
        return gym.spaces.Discrete(d["n"], start=d["start"])
    if d["type"] == "Box":
        dtype = np.dtype(d["dtype"])
        return gym.spaces.Box(np.asarray(d["low"], dtype).reshape(d["shape"]),
                              np.asarray(d["high"], dtype).reshape(d["shape"]), tuple(d["shape"]), dtype)
    raise ValueError(f"unknown stored space type {d['type']!r}")
