"""A conditional VAE over vectors (a CVAE policy's actions or action chunks given the state):

    encoder   q(z | c, x) = N(μ(c, x), diag σ(c, x)²)    an MLP on [c, x], then a GaussianHead
    decoder   x̂ = tanh(f(c, z))                          an MLP on [c, z]; tanh keeps actions in [-1, 1]
    prior     p(z) = N(0, I)

(Sohn et al. 2015 "Learning Structured Output Representation using Deep Conditional Generative
Models"; as a policy, BCQ's generative model, Fujimoto et al. 2019, and ACT's, Zhao et al. 2023.)
The ELBO that trains it is the algorithm's loss (algos/cvae_bc.py); the shared pieces are nn/vae.py's.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from keelrl.nn.mlp import mlp
from keelrl.nn.vae import GaussianHead, reparameterize


class ConditionalVAE(nn.Module):
    def __init__(self, cond_dim: int, x_dim: int, latent_dim: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        hidden = tuple(hidden_sizes)
        self.encoder = nn.Sequential(mlp(cond_dim + x_dim, hidden[:-1], hidden[-1]), nn.ReLU())
        self.head = GaussianHead(hidden[-1], latent_dim)
        self.decoder = mlp(cond_dim + latent_dim, hidden, x_dim)

    def encode(self, c: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """c [B, C], x [B, X] -> (μ, log σ) [B, Z] of q(z | c, x)."""
        return self.head(self.encoder(torch.cat([c, x], -1)))

    def decode(self, c: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """c [B, C], z [B, Z] -> x̂ [B, X] in [-1, 1]."""
        return torch.tanh(self.decoder(torch.cat([c, z], -1)))

    def forward(self, c: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None = None):
        """Encode, sample z by the reparameterization trick, decode: (x̂, μ, log σ)."""
        mean, log_std = self.encode(c, x)
        return self.decode(c, reparameterize(mean, log_std, generator)), mean, log_std
