"""A point on a plane seen from above in tiny frames: the pixel-observation toy for smoke tests and
probes of the pixel agents (SAC from pixels, VAE-SAC, CURL, SLAC), fast enough for `make test`.

    state     position p in [-1, 1]^2, starting uniformly in [-1, 1]^2 (np_random)
    action    Box([-1, -1], [1, 1]): p <- clip(p + 0.2 a, -1, 1)
    reward    -‖p‖ after the step (the centre is best)
    frames    uint8 [3, S, S] (S = size, 16 by default): black, the centre marked grey, the point a
              white 2x2 square; no state in the observation, only pixels
    episode   truncated after 50 steps (registration), never terminated
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

STEP, MAX_EPISODE_STEPS = 0.2, 50
ENV_ID = "keel/PixelPoint-v0"


class PixelPointEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, size: int = 16, render_mode: str | None = None) -> None:
        self.size, self.render_mode = int(size), render_mode
        self.observation_space = gym.spaces.Box(0, 255, (3, self.size, self.size), np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos = np.zeros(2)

    def frame(self) -> np.ndarray:
        s = self.size
        img = np.zeros((3, s, s), np.uint8)
        img[:, s // 2, s // 2] = 96                                   # the centre
        col, row = np.clip(((self.pos + 1) / 2 * (s - 2)).round().astype(int), 0, s - 2)
        img[:, s - 2 - row:s - row, col:col + 2] = 255                 # y up
        return img

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-1.0, 1.0, 2)
        return self.frame(), {}

    def step(self, action):
        self.pos = np.clip(self.pos + STEP * np.clip(np.asarray(action, np.float64), -1, 1), -1.0, 1.0)
        return self.frame(), -float(np.linalg.norm(self.pos)), False, False, {}

    def render(self):
        return self.frame().transpose(1, 2, 0) if self.render_mode == "rgb_array" else None


def register_pixel_point() -> None:
    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point=PixelPointEnv, max_episode_steps=MAX_EPISODE_STEPS)


register_pixel_point()
