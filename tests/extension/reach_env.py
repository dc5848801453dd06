"""An environment of the user's own, registered on import as ReachTarget-v0: move a point on a line
to a target. Its constructor takes a keyword of its own (`target`) and no `render_mode`."""
import gymnasium as gym
import numpy as np


class ReachTarget(gym.Env):
    def __init__(self, target: float = 0.5):
        self.target = float(target)
        self.observation_space = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.x = 0.0

    def _obs(self):
        return np.array([self.x, self.target], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-1, 1))
        return self._obs(), {}

    def step(self, action):
        self.x = float(np.clip(self.x + 0.1 * float(np.asarray(action).reshape(-1)[0]), -2, 2))
        return self._obs(), -abs(self.x - self.target), False, False, {}


class ShiftedReward(gym.RewardWrapper):
    """A wrapper of the user's own: 10 added to every reward."""

    def reward(self, reward):
        return reward + 10.0


gym.register("ReachTarget-v0", entry_point=ReachTarget, max_episode_steps=20)
