"""Vectorized ensembles: E independent networks evaluated as batched matmuls, shape [E, B, ...].

An ensemble of E critics is one module whose weights are stacked along a leading dimension, so a
forward pass is one `baddbmm` per layer instead of a Python loop over E networks.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


class EnsembleLinear(nn.Module):
    """E independent affine maps: x [E, B, in] -> [E, B, out] (or x [B, in] shared by all members)."""

    def __init__(self, ensemble_size: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.ensemble_size, self.in_features, self.out_features = ensemble_size, in_features, out_features
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Same distribution as nn.Linear's default, member by member.
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # the same input for every member, broadcast to [E, B, in]
            x = x.unsqueeze(0).expand(self.ensemble_size, *x.shape)
        # One baddbmm, bias included, whose output is contiguous [E, B, out]. (A single [B, in] x
        # [in, E*out] product for a shared input would need a permuted copy and a separate bias
        # add afterwards, and was slower here.)
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"ensemble_size={self.ensemble_size}, in={self.in_features}, out={self.out_features}"


class EnsembleMLP(nn.Module):
    """E independent MLPs in one module. Input [B, in] (shared) or [E, B, in]; output [E, B, out]."""

    def __init__(self, ensemble_size: int, in_dim: int, hidden: Sequence[int], out_dim: int) -> None:
        super().__init__()
        dims = [in_dim, *hidden, out_dim]
        self.layers = nn.ModuleList(EnsembleLinear(ensemble_size, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.ensemble_size = ensemble_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)

    def forward_member(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """Member i alone: x [B, in] -> [B, out], computing (and back-propagating through) no other member."""
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            x = torch.addmm(layer.bias[i], x, layer.weight[i])
            if k < last:
                x = torch.relu(x)
        return x


class EnsembleCritic(nn.Module):
    """E state-action value functions Q_i(s, a), i = 1..E.

    obs [B, O], action [B, A] -> Q [E, B].
    """

    def __init__(self, ensemble_size: int, obs_dim: int, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = EnsembleMLP(ensemble_size, obs_dim + act_dim, hidden, 1)
        self.ensemble_size = ensemble_size

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, action], dim=-1)).squeeze(-1)

    def member(self, i: int, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q_i(s, a) alone: obs [B, O], action [B, A] -> [B]."""
        return self.net.forward_member(torch.cat([obs, action], dim=-1), i).squeeze(-1)


def orthogonal_init_(net: EnsembleMLP, hidden_gain: float = math.sqrt(2), last_gain: float = 1e-2) -> None:
    """Orthogonal weights member by member (gain √2 for hidden layers, `last_gain` for the output
    layer), zero biases: the initialization CQL's reference code gives its critics."""
    with torch.no_grad():
        for k, layer in enumerate(net.layers):
            gain = last_gain if k == len(net.layers) - 1 else hidden_gain
            for w in layer.weight:  # [in, out] per member; init the [out, in] view like nn.Linear's weight
                nn.init.orthogonal_(w.T, gain=gain)
            layer.bias.zero_()


def edac_init_(net: EnsembleMLP, bias: float = 0.1, last_bound: float = 3e-3) -> None:
    """The initialization of the SAC-N/EDAC reference code: hidden biases 0.1, output layer
    weights and bias uniform in ±3e-3 (hidden weights keep the default)."""
    with torch.no_grad():
        for layer in net.layers[:-1]:
            layer.bias.fill_(bias)
        nn.init.uniform_(net.layers[-1].weight, -last_bound, last_bound)
        nn.init.uniform_(net.layers[-1].bias, -last_bound, last_bound)
