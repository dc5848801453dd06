"""The pieces of amortized variational inference that the latent-variable algorithms share (HyAR's
conditional VAE over hybrid actions; VAE state representations, CVAE policies and SLAC later):

    q(z | x) = N(μ(x), diag σ(x)²)                   GaussianHead: an MLP trunk's features -> (μ, log σ)
    z = μ + σ ⊙ ε,  ε ~ N(0, I)                       reparameterize: a sample whose gradient flows to μ, σ
    KL(q || N(0, I)) = ½ Σ_d (σ_d² + μ_d² - 1 - 2 log σ_d)    gaussian_kl: closed form, summed over the latent dims

(Kingma & Welling 2014, Eq. 10 and Appendix B.)
"""
from __future__ import annotations

import torch
from torch import nn


class GaussianHead(nn.Module):
    """features [..., F] -> (μ [..., D], log σ [..., D]), log σ clamped to [log_std_min, log_std_max]
    so that σ stays in a range where the KL and the samples are finite."""

    def __init__(self, in_dim: int, latent_dim: int, log_std_min: float = -10.0, log_std_max: float = 2.0) -> None:
        super().__init__()
        self.mean, self.log_std = nn.Linear(in_dim, latent_dim), nn.Linear(in_dim, latent_dim)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(features), self.log_std(features).clamp(self.log_std_min, self.log_std_max)


def reparameterize(mean: torch.Tensor, log_std: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = μ + σ ⊙ ε with ε ~ N(0, I) drawn from `generator` (the default one when None)."""
    noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + log_std.exp() * noise


def gaussian_kl(mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag σ²) || N(0, I)) in closed form, summed over the last dimension: [..., D] -> [...]."""
    return 0.5 * (torch.exp(2.0 * log_std) + mean.pow(2) - 1.0 - 2.0 * log_std).sum(-1)
