"""n-step transitions for a replay buffer, written as a vector environment produces steps.

Each environment copy keeps its last n steps. When it holds n, the oldest becomes the transition
(s_t, a_t, R_t^(n), s_{t+n}, terminated, γ^n); when the episode ends (terminated or truncated),
every pending step is written with the steps left, m < n: (s_t, a_t, R_t^(m), s_end, terminated, γ^m).
A truncated episode therefore still bootstraps from its final observation, with the right power of γ.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import torch

from keelrl.data.replay import ReplayBuffer
from keelrl.functional import n_step_returns


class NStepWriter:
    def __init__(self, buffer: ReplayBuffer, n: int, gamma: float, num_envs: int) -> None:
        if buffer.discount is None:
            raise ValueError("an n-step writer needs a ReplayBuffer made with with_discount=True")
        self.buffer, self.n, self.gamma = buffer, n, gamma
        self.pending: list[deque] = [deque() for _ in range(num_envs)]

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """One vector-env step: arrays with leading dim num_envs; next_obs is the true next observation."""
        for i, window in enumerate(self.pending):
            window.append((obs[i], action[i], float(reward[i])))
            if terminated[i] or truncated[i]:
                self._write(window, len(window), next_obs[i], bool(terminated[i]))
                window.clear()
            elif len(window) == self.n:
                self._write(window, 1, next_obs[i], False)
                window.popleft()

    def _write(self, window: deque, count: int, last_obs, terminated: bool) -> None:
        """Write the `count` oldest steps of `window`, each bootstrapping from `last_obs`."""
        rewards = torch.tensor([[r] for _, _, r in window], dtype=torch.float64)
        returns, steps = n_step_returns(rewards, torch.zeros_like(rewards), self.gamma, self.n)
        items = list(window)[:count]
        self.buffer.add(np.stack([o for o, _, _ in items]), np.stack([np.asarray(a) for _, a, _ in items]),
                        returns[:count, 0].numpy(), np.stack([last_obs] * count), np.full(count, float(terminated)),
                        self.gamma ** steps[:count, 0].numpy())

    def state_dict(self) -> dict:
        return {"pending": [list(w) for w in self.pending]}

    def load_state_dict(self, state: dict) -> None:
        self.pending = [deque(w) for w in state["pending"]]
