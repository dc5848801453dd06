"""The on-policy rollout storage: T steps of N environment copies, preallocated [T, N, ...] tensors."""
from __future__ import annotations

import numpy as np
import torch

from keelrl.types import Spaces


class RolloutBuffer:
    """Fields, all [T, N, ...]:
        obs [T, N, O]        normalized observation the action was chosen from
        action [T, N, A]     the sampled action, unclipped (continuous) or [T, N] int64 (discrete);
                             hybrid: [T, N, 1 + P], the discrete index (as a float), then the parameters
        log_prob, value      log π_old(a|s) and V_old(s) at collection time; hybrid: log_prob [T, N, 2],
                             the discrete and the continuous head's (H-PPO's two ratios)
        reward               the (scaled) reward
        next_obs [T, N, O]   normalized TRUE next observation (the final one at an episode end)
        terminated           1 where the MDP ended (no bootstrap)
        episode_end          1 where the episode ended, terminated or truncated (GAE stops there)
    """

    @classmethod
    def for_spaces(cls, steps: int, num_envs: int, spaces: Spaces, device: torch.device | str) -> "RolloutBuffer":
        """A rollout for flat observations and the action space's actions (int64 indices for Discrete;
        the index and the parameters, with a log-probability per head, for hybrid actions)."""
        if spaces.hybrid:
            return cls(steps, num_envs, spaces.obs_dim, 1 + spaces.param_dim, device, log_prob_heads=2)
        return cls(steps, num_envs, spaces.obs_dim, None if spaces.discrete else spaces.act_dim, device)

    def __init__(self, steps: int, num_envs: int, obs_dim: int, act_dim: int | None, device: torch.device | str,
                 log_prob_heads: int = 1) -> None:
        d = torch.device(device)
        t, n = steps, num_envs
        self.steps, self.num_envs, self.device = t, n, d
        self.obs = torch.zeros(t, n, obs_dim, device=d)
        self.next_obs = torch.zeros(t, n, obs_dim, device=d)
        self.action = torch.zeros(t, n, dtype=torch.int64, device=d) if act_dim is None else torch.zeros(t, n, act_dim, device=d)
        self.log_prob = torch.zeros(t, n, device=d) if log_prob_heads == 1 else torch.zeros(t, n, log_prob_heads, device=d)
        self.value = torch.zeros(t, n, device=d)
        self.reward = torch.zeros(t, n, device=d)
        self.terminated = torch.zeros(t, n, device=d)
        self.episode_end = torch.zeros(t, n, device=d)
        self.t = 0

    def add(self, obs: torch.Tensor, action: torch.Tensor, log_prob: torch.Tensor, value: torch.Tensor,
            reward: np.ndarray, next_obs: np.ndarray, terminated: np.ndarray, episode_end: np.ndarray) -> None:
        t, d = self.t, self.device
        self.obs[t], self.action[t], self.log_prob[t], self.value[t] = obs, action, log_prob, value
        self.reward[t] = torch.as_tensor(reward, dtype=torch.float32, device=d)
        self.next_obs[t] = torch.as_tensor(next_obs, dtype=torch.float32, device=d)
        self.terminated[t] = torch.as_tensor(terminated, dtype=torch.float32, device=d)
        self.episode_end[t] = torch.as_tensor(episode_end, dtype=torch.float32, device=d)
        self.t += 1

    @property
    def full(self) -> bool:
        return self.t == self.steps

    def reset(self) -> None:
        self.t = 0
