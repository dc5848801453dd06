"""Pure math shared by several algorithms. No state, no optimizers, no I/O."""
from __future__ import annotations

from typing import Callable, Iterable

import torch


def td_target(reward: torch.Tensor, terminated: torch.Tensor, next_value: torch.Tensor, gamma: float) -> torch.Tensor:
    """One-step bootstrapped target  y = r + γ (1 - d) V(s').

    reward, terminated: [B]; next_value: [..., B] (broadcast over leading dims such as an ensemble).
    `terminated` is 1 only at a true termination: a time-limit truncation bootstraps.
    """
    return reward + gamma * (1.0 - terminated) * next_value


@torch.no_grad()
def soft_update(target: Iterable[torch.Tensor], online: Iterable[torch.Tensor], tau: float) -> None:
    """Polyak averaging  θ' ← τ θ + (1 - τ) θ'  (in place, fused over all tensors)."""
    target, online = list(target), list(online)
    torch._foreach_lerp_(target, online, tau)


@torch.no_grad()
def hard_update(target: Iterable[torch.Tensor], online: Iterable[torch.Tensor]) -> None:
    """θ' ← θ (in place)."""
    for t, o in zip(target, online):
        t.copy_(o)


def n_step_returns(reward: torch.Tensor, done: torch.Tensor, gamma: float, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Truncated n-step returns of a trajectory segment, vectorized over time and copies.

        R_t^(n) = Σ_{k=0}^{m_t - 1} γ^k r_{t+k},   m_t = min(n, steps until the episode or segment ends)

    reward, done [T, N] (done = terminated or truncated at that step). Returns (R [T, N], m [T, N]):
    the target of step t is R_t^(n) + γ^{m_t} (1 - terminated) Q(s_{t+m_t}). The loop runs over the
    n offsets, not over time.
    """
    assert reward.shape == done.shape and reward.dim() == 2, f"shapes: reward {tuple(reward.shape)}, done {tuple(done.shape)}"
    t = reward.shape[0]
    ret = torch.zeros_like(reward)
    steps = torch.zeros_like(reward)
    alive = torch.ones_like(reward)
    for k in range(min(n, t)):
        r_k = torch.zeros_like(reward)
        d_k = torch.zeros_like(reward)
        inside = torch.zeros_like(reward)    # step t + k exists in the segment
        r_k[: t - k], d_k[: t - k], inside[: t - k] = reward[k:], done[k:].to(reward.dtype), 1.0
        alive = alive * inside
        ret = ret + alive * gamma ** k * r_k
        steps = steps + alive
        alive = alive * (1.0 - d_k)
    return ret, steps


def reverse_linear_scan(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """y_t = x_t + c_t y_{t+1} with y_T = 0, along dim 0, by recursive doubling (log2 T tensor steps).

    After j rounds each y_t holds x_t + c_t x_{t+1} + ... over a window of 2^j steps and b_t the
    product of the c's over that window; joining two windows is (a, b) ∘ (a', b') = (a + b a', b b').
    """
    a, b = x.clone(), c.clone()
    t, s = x.shape[0], 1
    while s < t:
        a_next = torch.zeros_like(a)
        b_next = torch.zeros_like(b)
        a_next[: t - s], b_next[: t - s] = a[s:], b[s:]
        a = a + b * a_next
        b = b * b_next
        s *= 2
    return a


def gae(reward: torch.Tensor, value: torch.Tensor, next_value: torch.Tensor, terminated: torch.Tensor,
        episode_end: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Generalized advantage estimation (Schulman et al. 2016, Eq. 16), vectorized over time.

        δ_t = r_t + γ (1 - term_t) V(s'_t) - V(s_t)
        Â_t = δ_t + γ λ (1 - end_t) Â_{t+1}

    All inputs [T, N]. next_value is V of the true next observation: at a time-limit truncation it
    is V(final observation), so a truncated episode bootstraps, a terminated one does not.
    episode_end = terminated or truncated cuts the sum at episode boundaries. Returns Â [T, N];
    the value targets are Â + V.
    """
    assert reward.shape == value.shape == next_value.shape == terminated.shape == episode_end.shape, "GAE inputs must all be [T, N]"
    delta = reward + gamma * (1.0 - terminated.to(reward.dtype)) * next_value - value
    return reverse_linear_scan(delta, gamma * lam * (1.0 - episode_end.to(reward.dtype)))


def expectile_loss(diff: torch.Tensor, tau: float) -> torch.Tensor:
    """L₂^τ(u) = |τ - 1(u < 0)| u², element-wise (IQL, Kostrikov et al. 2021, Eq. 5): with u = Q - V,
    τ > 0.5 weighs under-estimates of Q by V more, so V tends to an upper expectile of Q."""
    weight = torch.where(diff < 0, 1.0 - tau, tau)
    return weight * diff.pow(2)


def invert_gradients(grad: torch.Tensor, value: torch.Tensor, low: float | torch.Tensor = -1.0,
                     high: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Inverting gradients (Hausknecht & Stone 2016, Eq. 11) for a bounded output p ∈ [p_min, p_max]:

        ∇p ← ∇p · (p_max - p) / (p_max - p_min)   where ∇p suggests increasing p
        ∇p ← ∇p · (p - p_min) / (p_max - p_min)   otherwise

    grad = ∂Q/∂p (the ascent direction), value = p, both [B, D]: the step shrinks as p nears the bound
    it moves toward and reverses once p is past it, which keeps p in bounds without a squashing function."""
    assert grad.shape == value.shape, f"grad {tuple(grad.shape)} and value {tuple(value.shape)} must match"
    width = high - low
    return torch.where(grad > 0, grad * (high - value) / width, grad * (value - low) / width)


def inverted_gradient_loss(q_of: Callable[[torch.Tensor], torch.Tensor], action: torch.Tensor,
                           low: float | torch.Tensor = -1.0, high: float | torch.Tensor = 1.0
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The deterministic policy gradient through inverting gradients (Hausknecht & Stone 2016, §4.3.3):
    g̃ = invert_gradients(∂Q(s, a)/∂a, a) with a = μ_φ(s) [B, D], applied through the surrogate
    -E[ Σ_i g̃_i a_i ] (g̃ held fixed), whose gradient in φ is -E[ g̃ ∂a/∂φ ].

    q_of(a) -> [B] the value of actions a (critic weights frozen by the caller). Returns
    (surrogate loss, Q(s, a) [B] without gradient)."""
    a = action.detach().requires_grad_(True)
    q = q_of(a)                                                  # [B]
    assert q.dim() == 1 and q.shape[0] == action.shape[0], f"q_of must give [B] values, got {tuple(q.shape)}"
    (grad,) = torch.autograd.grad(q.sum(), a)                    # [B, D]: ∂Q/∂a row by row
    g = invert_gradients(grad, a.detach(), low, high)
    return -(g * action).sum(1).mean(), q.detach()


def diagonal_gaussian_kl(mean_q: torch.Tensor, log_std_q: torch.Tensor, mean_p: torch.Tensor,
                         log_std_p: torch.Tensor) -> torch.Tensor:
    """KL(q || p) of two diagonal Gaussians, summed over the last dimension: [..., D] -> [...].

        KL = Σ_d [ log σ_p - log σ_q + (σ_q² + (μ_q - μ_p)²) / (2 σ_p²) - ½ ]

    p = N(0, I) gives nn/vae.py's `gaussian_kl`. Gradients flow into both q and p (SLAC trains its
    learned priors through this term)."""
    assert mean_q.shape == log_std_q.shape == mean_p.shape == log_std_p.shape, "all four must share a shape"
    var_ratio = torch.exp(2.0 * (log_std_q - log_std_p))                          # σ_q² / σ_p²
    mean_term = (mean_q - mean_p).pow(2) * torch.exp(-2.0 * log_std_p)             # (μ_q - μ_p)² / σ_p²
    return (log_std_p - log_std_q + 0.5 * (var_ratio + mean_term) - 0.5).sum(-1)


def gaussian_kernel_mmd(x: torch.Tensor, y: torch.Tensor, bandwidth: float | torch.Tensor | None = None) -> torch.Tensor:
    """The squared maximum mean discrepancy between samples x [N, D] and y [M, D] under the Gaussian
    kernel k(a, b) = exp(-‖a - b‖² / (2 h²)) (Gretton et al. 2012, Eq. 5, the biased V-statistic):

        MMD² = mean k(x, x') + mean k(y, y') - 2 mean k(x, y)

    h: the bandwidth; None takes the median distance between all the pooled points (the median
    heuristic). 0 for identical samples, > 0 otherwise, up to 2."""
    assert x.dim() == 2 and y.dim() == 2 and x.shape[1] == y.shape[1], f"x [N, D] and y [M, D]: {x.shape}, {y.shape}"
    pooled = torch.cat([x, y])
    d2 = torch.cdist(pooled, pooled).pow(2)                                        # [N+M, N+M]
    if bandwidth is None:
        bandwidth = d2[d2 > 0].sqrt().median() if (d2 > 0).any() else torch.ones((), device=x.device)
    k = torch.exp(-d2 / (2.0 * torch.as_tensor(bandwidth, dtype=x.dtype, device=x.device) ** 2))
    n = x.shape[0]
    return k[:n, :n].mean() + k[n:, n:].mean() - 2.0 * k[:n, n:].mean()


def info_nce_loss(logits: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """InfoNCE (van den Oord et al. 2018, Eq. 4) with the batch as negatives: logits [B, B] where
    logits[i, j] scores query i against key j and the positive pair of query i is key i:

        L = -1/B Σ_i log( exp(logits[i, i]) / Σ_j exp(logits[i, j]) )

    i.e. a cross-entropy whose label of row i is i (CURL, Srinivas et al. 2020, Eq. 5, with
    logits = q W k^T). Its minimum is 0; with no information, log B."""
    assert logits.dim() == 2 and logits.shape[0] == logits.shape[1], f"logits must be [B, B], got {tuple(logits.shape)}"
    labels = torch.arange(logits.shape[0], device=logits.device)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    accuracy = (logits.argmax(1) == labels).float().mean()
    return loss, {"loss_contrastive": loss.detach(), "contrastive_accuracy": accuracy.detach()}


def seed_from_torch() -> int:
    """A seed for an agent's own torch.Generator, drawn from torch's global generator: the loops seed
    that with the run's seed before building the agent, so each seed of a sweep gets its own draws."""
    return int(torch.randint(0, 2 ** 62, (1,)).item())
