"""HyAR's conditional VAE over hybrid actions (Li et al. 2022, "HyAR", §4.1-4.2): an embedding table
for the discrete actions and a conditional VAE for the chosen action's parameters, with the
state change as an auxiliary target.

    e_k = tanh(E[k])                          the embedding of discrete action k, E [K, d1] learned
    q_φ(z | x_k, s, e_k) = N(μ, diag σ²)      encoder: ReLU(W[s, e_k]) ⊙ ReLU(W' x_k) -> MLP -> (μ, log σ)
    p_ψ(x_k, δ_s | z, s, e_k)                 decoder: ReLU(W[s, e_k]) ⊙ ReLU(W' z) -> MLP -> x̃_k (tanh), δ̃_s (tanh)
    k = argmin_j ||e - e_j||²                 decoding a discrete embedding: its nearest row of the table

The element-wise products fuse the condition (s, e_k) with the input (x_k or z), as the paper's
code does. x_k is the chosen action's own parameters, zero-padded to the widest action's W.
"""
from __future__ import annotations

import torch
from torch import nn

from keelrl.nn.vae import GaussianHead


class HybridActionVAE(nn.Module):
    def __init__(self, obs_dim: int, num_actions: int, param_width: int, embed_dim: int, latent_dim: int,
                 hidden: int = 256) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.rand(num_actions, embed_dim) * 2 - 1)    # E, used through tanh
        self.enc_cond, self.enc_in = nn.Linear(obs_dim + embed_dim, hidden), nn.Linear(param_width, hidden)
        self.enc = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = GaussianHead(hidden, latent_dim, log_std_min=-4.0, log_std_max=15.0)
        self.dec_cond, self.dec_in = nn.Linear(obs_dim + embed_dim, hidden), nn.Linear(latent_dim, hidden)
        self.dec = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.param_head = nn.Linear(hidden, param_width)
        self.delta_head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, obs_dim))
        self.latent_dim = latent_dim

    def embeddings(self) -> torch.Tensor:
        """e [K, d1] = tanh(E)."""
        return torch.tanh(self.table)

    def encode(self, obs: torch.Tensor, e: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(s [B, O], e_k [B, d1], x_k [B, W]) -> (μ, log σ) [B, d2]."""
        h = torch.relu(self.enc_cond(torch.cat([obs, e], -1))) * torch.relu(self.enc_in(x))   # [B, H] fused
        return self.head(self.enc(h))

    def decode(self, obs: torch.Tensor, z: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(s [B, O], z [B, d2], e_k [B, d1]) -> (x̃_k [B, W] in [-1, 1], δ̃_s [B, O] in [-1, 1])."""
        v = self.dec(torch.relu(self.dec_cond(torch.cat([obs, e], -1))) * torch.relu(self.dec_in(z)))  # [B, H]
        return torch.tanh(self.param_head(v)), torch.tanh(self.delta_head(v))

    def nearest(self, e: torch.Tensor) -> torch.Tensor:
        """The discrete action of embeddings e [B, d1]: the nearest table row in L2, [B]."""
        return torch.cdist(e, self.embeddings()).argmin(1)
