"""Acting with action chunks: a policy that predicts its next k actions at once (ACT, Zhao et al.
2023 "Learning Fine-Grained Bimanual Manipulation with Low-Cost Hardware", §3.3) executes them
either open loop (a new chunk every k steps) or with temporal ensembling: a chunk is predicted at
every step, and the action of step t averages the predictions for t of the chunks made at steps
t-k+1 .. t with the weights

    w_i = exp(-m · i),   i = 0 the OLDEST prediction,                 a_t = Σ w_i a_t^(i) / Σ w_i

so older predictions weigh more, and a smaller m incorporates new observations faster (ACT: m = 0.01).
"""
from __future__ import annotations

from typing import Callable, Literal

import numpy as np
import torch


def ensemble_weights(n: int, m: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """[n] normalized weights of n predictions ordered oldest first: w_i ∝ exp(-m · i)."""
    w = torch.exp(-m * torch.arange(n, dtype=torch.float32, device=device))
    return w / w.sum()


class ChunkedActor:
    """Turns `predict(obs [N, O]) -> chunks [N, k, A]` into one action per step for N environment
    copies, remembering each copy's earlier chunks until its episode restarts (`start_episodes`)."""

    def __init__(self, predict: Callable[[np.ndarray], torch.Tensor], chunk: int,
                 execution: Literal["ensemble", "open_loop"] = "ensemble", m: float = 0.01) -> None:
        self.predict, self.k, self.execution, self.m = predict, chunk, execution, m
        self.chunks: torch.Tensor | None = None   # [N, k, k, A]: chunk made j steps ago in row j (0 the newest)
        self.count = np.zeros(0, dtype=np.int64)  # steps acted since each copy's episode began

    def start_episodes(self, mask: np.ndarray) -> None:
        """Forget the chunks of the copies whose episodes (re)start."""
        if len(self.count) == len(mask):
            self.count[np.asarray(mask, dtype=bool)] = 0

    def act(self, obs: np.ndarray) -> torch.Tensor:
        """obs [N, O] -> actions [N, A] of this step."""
        n = obs.shape[0]
        if len(self.count) != n:                      # a new set of copies: every episode starts now
            self.chunks, self.count = None, np.zeros(n, dtype=np.int64)
        if self.execution == "open_loop":
            return self._open_loop(obs)
        new = self.predict(obs)                                                         # [N, k, A]
        if self.chunks is None:
            self.chunks = new.new_zeros(n, self.k, *new.shape[1:])
        self.chunks = torch.cat([new.unsqueeze(1), self.chunks[:, :-1]], 1)             # age j in row j
        ages = torch.arange(self.k, device=new.device)
        for_now = self.chunks[:, ages, ages]                                            # [N, k, A]: age j's prediction for now
        out = torch.empty_like(new[:, 0])
        for i in range(n):
            valid = int(min(self.count[i] + 1, self.k))                                 # chunks made in this episode
            preds = for_now[i, :valid].flip(0)                                          # oldest first
            out[i] = (ensemble_weights(valid, self.m, new.device)[:, None] * preds).sum(0)
        self.count += 1
        return out

    def _open_loop(self, obs: np.ndarray) -> torch.Tensor:
        """A fresh chunk when the last one is used up (or the episode restarted), else its next action."""
        due = self.count % self.k == 0
        if self.chunks is None or due.any():
            new = self.predict(obs)                                                     # [N, k, A]
            if self.chunks is None:
                self.chunks = new.unsqueeze(1).clone()
            rows = torch.as_tensor(np.flatnonzero(due), device=new.device)
            self.chunks[rows, 0] = new[rows]
        step = torch.as_tensor(self.count % self.k, device=self.chunks.device)
        out = self.chunks[torch.arange(len(obs), device=self.chunks.device), 0, step]
        self.count += 1
        return out
