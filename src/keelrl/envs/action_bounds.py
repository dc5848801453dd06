"""The affine map between a policy's action space [-1, 1]^A and an environment's Box [low, high]."""
from __future__ import annotations

import numpy as np
import torch


class ActionBounds:
    """a_env = scale · a + bias with scale = (high - low) / 2, bias = (high + low) / 2."""

    def __init__(self, low, high, device: torch.device | str = "cpu") -> None:
        self.low = np.asarray(low, dtype=np.float32)
        self.high = np.asarray(high, dtype=np.float32)
        self._scale_np, self._bias_np = (self.high - self.low) / 2, (self.high + self.low) / 2
        self.scale = torch.as_tensor(self._scale_np, device=device)
        self.bias = torch.as_tensor(self._bias_np, device=device)

    def to_env(self, action: torch.Tensor) -> np.ndarray:
        """Policy-space actions [N, A] (a tensor in [-1, 1]) -> env-space numpy actions."""
        return (action * self.scale + self.bias).cpu().numpy()

    def to_env_numpy(self, action: np.ndarray) -> np.ndarray:
        """Policy-space numpy actions -> env-space numpy actions."""
        return np.asarray(action, dtype=np.float32) * self._scale_np + self._bias_np

    def to_policy(self, env_action: np.ndarray) -> np.ndarray:
        """Env-space actions -> the policy's [-1, 1] (what a replay buffer stores)."""
        return np.clip((np.asarray(env_action, dtype=np.float32) - self._bias_np) / self._scale_np, -1.0, 1.0)
