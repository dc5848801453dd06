"""Action-value networks for parameterized (hybrid) actions: Q(s, k, x) for K discrete actions whose
parameters x_k are continuous. obs [B, O], parameters of every action [B, P] -> Q(s, ·, x) [B, K].

    single pass (P-DQN, Xiong et al. 2018):      Q(s, ·, x) = f([s, x])       each Q_k sees every x_j
    multi-pass (MP-DQN, Bester et al. 2019):      Q_k(s, x) = f([s, x ⊙ m_k])_k   m_k masks all but x_k

P-DQN's single pass lets Q_k depend on the other actions' parameters, so the gradient of Q_k moves
parameters it does not use (Bester et al. §3). The K passes of MP-DQN run as one batch of K·B rows.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from keelrl.nn.mlp import mlp


class ParamQNetwork(nn.Module):
    """Q(s, ·, x) [B, K]; multi-pass when `slices` (each action's (start, stop) of the P parameters) is given."""

    def __init__(self, obs_dim: int, param_dim: int, num_actions: int, hidden: Sequence[int],
                 slices: Sequence[tuple[int, int]] | None = None) -> None:
        super().__init__()
        self.net = mlp(obs_dim + param_dim, hidden, num_actions)
        masks = None
        if slices is not None:
            masks = torch.zeros(num_actions, param_dim)
            for k, (start, stop) in enumerate(slices):
                masks[k, start:stop] = 1.0
        self.register_buffer("masks", masks)     # [K, P] or None

    def forward(self, obs: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        if self.masks is None:
            return self.net(torch.cat([obs, params], -1))                        # [B, K]
        k, (b, o) = self.masks.shape[0], obs.shape
        own = params.unsqueeze(0) * self.masks.unsqueeze(1)                     # [K, B, P]: pass k sees x_k only
        q = self.net(torch.cat([obs.unsqueeze(0).expand(k, b, o), own], -1))    # [K, B, K]
        return q.diagonal(dim1=0, dim2=2)                                        # [B, K]: Q_k from pass k
