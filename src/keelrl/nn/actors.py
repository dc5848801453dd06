"""Policy networks."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from keelrl.nn.distributions import TanhNormal
from keelrl.nn.mlp import mlp


class TanhGaussianActor(nn.Module):
    """π(a|s) = tanh(N(μ(s), diag σ(s)²)) with a state-dependent, clamped log-std.

    obs [B, O] -> TanhNormal over actions in [-1, 1]^A (the agent rescales to the env's bounds).
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], log_std_min: float, log_std_max: float) -> None:
        super().__init__()
        self.trunk = mlp(obs_dim, hidden[:-1], hidden[-1]) if len(hidden) > 1 else nn.Linear(obs_dim, hidden[0])
        self.head = nn.Linear(hidden[-1], 2 * act_dim)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, obs: torch.Tensor) -> TanhNormal:
        mu, log_std = self.head(torch.relu(self.trunk(obs))).chunk(2, dim=-1)
        return TanhNormal(mu, log_std.clamp(self.log_std_min, self.log_std_max))


class DeterministicActor(nn.Module):
    """μ(s) = tanh(f(s)): a deterministic policy with actions in [-1, 1]^A. obs [B, O] -> [B, A]."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, act_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))


class GaussianActor(nn.Module):
    """π(a|s) = N(tanh(f(s)), diag σ²) with a state-independent, clamped log σ (the IQL and AWAC
    policies): the mean lies in [-1, 1]^A, samples are not squashed. obs [B, O] -> Normal over [B, A]."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], log_std_min: float, log_std_max: float) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, act_dim)
        self.log_std = nn.Parameter(torch.zeros(act_dim))
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, obs: torch.Tensor) -> torch.distributions.Normal:
        mean = torch.tanh(self.net(obs))
        std = self.log_std.clamp(self.log_std_min, self.log_std_max).exp().expand_as(mean)
        return torch.distributions.Normal(mean, std, validate_args=False)
