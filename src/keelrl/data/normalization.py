"""Running statistics for observation and reward normalization (saved in checkpoints with the agent)."""
from __future__ import annotations

import numpy as np
import torch


class RunningMeanStd:
    """Mean and variance of a stream of vectors, merged batch by batch (Chan et al. 1979's parallel
    update), in float64 so that millions of steps do not lose precision."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = epsilon  # a tiny prior count, so the first batch does not divide by zero

    def update(self, x: np.ndarray) -> None:
        """x [N, *shape]: merge N new samples."""
        x = np.asarray(x, np.float64)
        b_mean, b_var, b_count = x.mean(0), x.var(0), x.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta ** 2 * self.count * b_count / total
        self.var, self.count = m2 / total, total

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.mean, self.var, self.count = state["mean"].copy(), state["var"].copy(), state["count"]


class ObservationNormalizer:
    """o ↦ clip((o - μ) / sqrt(σ² + ε), -c, c) with running μ, σ² over the observations seen in training."""

    def __init__(self, obs_dim: int, clip: float, epsilon: float = 1e-8) -> None:
        self.rms, self.clip, self.epsilon = RunningMeanStd((obs_dim,)), clip, epsilon

    def __call__(self, obs: np.ndarray, update: bool = False) -> np.ndarray:
        if update:
            self.rms.update(obs)
        return np.clip((obs - self.rms.mean) / np.sqrt(self.rms.var + self.epsilon), -self.clip, self.clip).astype(np.float32)


class RewardScaler:
    """r ↦ clip(r / sqrt(Var[G] + ε), -c, c), where G_t = γ G_{t-1} + r_t is each copy's running
    discounted return (reset at episode ends): rewards are scaled, not centred."""

    def __init__(self, num_envs: int, gamma: float, clip: float, epsilon: float = 1e-8) -> None:
        self.rms, self.gamma, self.clip, self.epsilon = RunningMeanStd(()), gamma, clip, epsilon
        self.returns = np.zeros(num_envs, np.float64)

    def __call__(self, reward: np.ndarray, episode_end: np.ndarray) -> np.ndarray:
        self.returns = self.returns * self.gamma + reward
        self.rms.update(self.returns)
        scaled = np.clip(reward / np.sqrt(self.rms.var + self.epsilon), -self.clip, self.clip)
        self.returns[np.asarray(episode_end, bool)] = 0.0
        return scaled.astype(np.float32)

    def state_dict(self) -> dict:
        return {"rms": self.rms.state_dict(), "returns": self.returns.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.rms.load_state_dict(state["rms"])
        self.returns = state["returns"].copy()


class FixedNormalizer:
    """o ↦ (o - μ) / σ with μ, σ fixed from a dataset (offline algorithms' state normalization);
    the identity until `set` is called. Works on tensors on the agent's device."""

    def __init__(self, dim: int, device: torch.device | str) -> None:
        self.mean = torch.zeros(dim, device=device)
        self.std = torch.ones(dim, device=device)

    def set(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std)

    def __call__(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        obs = torch.as_tensor(np.asarray(obs) if not torch.is_tensor(obs) else obs, dtype=torch.float32,
                              device=self.mean.device)
        return (obs - self.mean) / self.std

    def state_dict(self) -> dict:
        return {"mean": self.mean.cpu().clone(), "std": self.std.cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        self.mean.copy_(state["mean"])
        self.std.copy_(state["std"])
