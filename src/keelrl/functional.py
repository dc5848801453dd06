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
