"""The tanh-squashed diagonal Gaussian used by SAC-style policies.

u ~ N(μ, diag σ²),  a = tanh(u).  With `Independent(Normal)` semantics, the log-density of the
action vector is a sum over its A dimensions, and the change of variables a = tanh(u) adds
    log π(a|s) = Σ_i [ log N(u_i; μ_i, σ_i) - log(1 - tanh²(u_i)) ]          (Haarnoja et al. 2018, Eq. 26)
The correction is computed in the numerically stable form
    log(1 - tanh²(u)) = 2 (log 2 - u - softplus(-2u)),
which never evaluates 1 - tanh² (that underflows to 0, and its log to -inf, once |u| > ~9).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG2 = math.log(2.0)


def tanh_log_det_jacobian(u: torch.Tensor) -> torch.Tensor:
    """log |d tanh(u) / du| = log(1 - tanh²(u)), element-wise, stable for large |u|."""
    return 2.0 * (_LOG2 - u - F.softplus(-2.0 * u))


class TanhNormal:
    """Diagonal Gaussian pushed through tanh. loc, log_std: [..., A]. Log-probs are summed over A."""

    def __init__(self, loc: torch.Tensor, log_std: torch.Tensor) -> None:
        self.loc, self.log_std = loc, log_std
        self.scale = log_std.exp()

    def _gaussian_log_prob(self, u: torch.Tensor) -> torch.Tensor:
        z = (u - self.loc) / self.scale
        return -0.5 * z.pow(2) - self.log_std - _LOG_SQRT_2PI

    def log_prob_pre_tanh(self, u: torch.Tensor) -> torch.Tensor:
        """log π(tanh(u)) given the pre-squash sample u: [..., A] -> [...]."""
        return (self._gaussian_log_prob(u) - tanh_log_det_jacobian(u)).sum(-1)

    def log_prob(self, action: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
        """log π(a) for an action in (-1, 1); actions on the boundary are clipped by eps first."""
        a = action.clamp(-1.0 + eps, 1.0 - eps)
        return self.log_prob_pre_tanh(torch.atanh(a))

    def rsample(self, sample_shape: torch.Size | tuple = ()) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reparameterized sample u = μ + σ ε, a = tanh(u).

        Returns (action [*S, ..., A], log_prob [*S, ...], u [*S, ..., A]); gradients flow to μ and σ.
        """
        shape = torch.Size(sample_shape) + self.loc.shape
        return self.rsample_from(torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device))

    def rsample_from(self, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`rsample` with the standard-normal noise ε given (eps broadcasts against loc), for callers
        that draw it from their own generator (one per seed when several seeds train at once)."""
        u = self.loc + self.scale * eps
        # log N(u; μ, σ) with z = ε exactly, which is cheaper and more accurate than recomputing it.
        gauss = -0.5 * eps.pow(2) - self.log_std - _LOG_SQRT_2PI
        log_prob = (gauss - tanh_log_det_jacobian(u)).sum(-1)
        return torch.tanh(u), log_prob, u

    @property
    def mode(self) -> torch.Tensor:
        """The deterministic action tanh(μ), used for evaluation."""
        return torch.tanh(self.loc)
