"""Named tensors passed between data/, algos/ and train/, with their shape contract.

Shapes (B = batch size, O = observation dim, A = action dim):
    obs       [B, O]   float32
    action    [B, A]   float32, in the policy's space [-1, 1] (rescaled to the env's bounds on the way out);
              [B] int64 for discrete actions
    reward    [B]      float32
    next_obs  [B, O]   float32, the true next observation (for a truncated episode, the final one)
    terminated[B]      float32 in {0, 1}: 1 only when the MDP ended (no bootstrap); a time-limit
                       truncation is NOT a termination, so the target bootstraps through it.
    discount  [B]      float32 or None: the bootstrap discount γ^m of an m-step transition (n-step
                       returns); None means one-step transitions discounted by the algorithm's γ.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Batch:
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    discount: torch.Tensor | None = None

    def __post_init__(self) -> None:
        b = self.obs.shape[0]
        for name in ("action", "reward", "next_obs", "terminated"):
            t = getattr(self, name)
            if t.shape[0] != b:
                raise ValueError(f"Batch.{name} has leading size {t.shape[0]}, expected {b} like obs")
        if self.reward.dim() != 1 or self.terminated.dim() != 1:
            raise ValueError("Batch.reward and Batch.terminated must be 1-D [B] tensors")
        if self.obs.shape != self.next_obs.shape:
            raise ValueError(f"Batch.next_obs {tuple(self.next_obs.shape)} != obs {tuple(self.obs.shape)}")

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(*(None if getattr(self, f) is None else getattr(self, f).to(device)
                       for f in ("obs", "action", "reward", "next_obs", "terminated", "discount")))
