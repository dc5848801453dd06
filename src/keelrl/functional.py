"""Pure math shared by several algorithms. No state, no optimizers, no I/O."""
from __future__ import annotations

from typing import Iterable

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
