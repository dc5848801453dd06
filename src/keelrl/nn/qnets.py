"""Action-value networks for discrete actions: obs [B, O] -> Q(s, ·) [B, K]."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from keelrl.nn.mlp import mlp


class QNetwork(nn.Module):
    """Q(s, ·) from one MLP, or with `dueling`, from a shared trunk and two heads (Wang et al. 2016, Eq. 9):

        Q(s, a) = V(s) + A(s, a) - (1/K) Σ_a' A(s, a')
    """

    def __init__(self, obs_dim: int, num_actions: int, hidden: Sequence[int], dueling: bool = False) -> None:
        super().__init__()
        self.dueling = dueling
        if dueling:
            self.trunk = nn.Sequential(mlp(obs_dim, hidden[:-1], hidden[-1]), nn.ReLU())
            self.value = nn.Linear(hidden[-1], 1)
            self.advantage = nn.Linear(hidden[-1], num_actions)
        else:
            self.net = mlp(obs_dim, hidden, num_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if not self.dueling:
            return self.net(obs)
        h = self.trunk(obs)
        adv = self.advantage(h)
        return self.value(h) + adv - adv.mean(-1, keepdim=True)
