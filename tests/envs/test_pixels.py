"""Pixel wrappers: ActionRepeat sums rewards and stops at an episode's end, PixelObservation gives uint8
[3, size, size] frames, FrameStack concatenates channels oldest first, and pixel_env orders them so a
frame is drawn once per agent step."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import TimeLimit

from keelrl.envs.make import make_env
from keelrl.envs.make import pixel_env
from keelrl.envs.pixels import (ActionRepeat, FrameStack, PixelObservation, action_repeat_of, frame_stack_of,
                                rendering_problem)
from keelrl.errors import KeelError

NO_GL = rendering_problem()


class Counting(gym.Env):
    """Counts its steps: observation [t], reward t, terminated at t == end; its frames are 10 x 12 RGB
    filled with t, and it counts the frames drawn."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, end: int = 3, render_mode: str | None = None):
        self.observation_space = gym.spaces.Box(0, 100, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.end, self.render_mode, self.t, self.steps, self.renders = end, render_mode, 0, 0, 0

    def _obs(self):
        return np.array([self.t], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        self.steps += 1
        return self._obs(), float(self.t), self.t >= self.end, False, {}

    def render(self):
        self.renders += 1
        return np.full((10, 12, 3), self.t, np.uint8)


COUNTING = "keeltest/Counting-v0"
if COUNTING not in gym.registry:
    gym.register(COUNTING, entry_point=Counting)


def test_action_repeat_sums_rewards_and_stops_at_termination():
    env = ActionRepeat(Counting(end=3), 2)
    env.reset()
    obs, r, term, trunc, _ = env.step(0)
    assert (obs[0], r, term, trunc) == (2, 1 + 2, False, False)
    obs, r, term, trunc, _ = env.step(0)   # one inner step left before the end: the repeat stops there
    assert (obs[0], r, term, trunc) == (3, 3, True, False)
    assert env.unwrapped.steps == 3


def test_action_repeat_stops_at_truncation():
    env = ActionRepeat(TimeLimit(Counting(end=100), max_episode_steps=5), 4)
    env.reset()
    assert env.step(0)[1:4] == (1 + 2 + 3 + 4, False, False)
    assert env.step(0)[1:4] == (5, False, True)


def test_action_repeat_rejects_zero():
    with pytest.raises(KeelError, match="positive int"):
        ActionRepeat(Counting(), 0)


def test_pixel_observation_resizes_to_uint8_channels_first():
    env = PixelObservation(Counting(render_mode="rgb_array"), size=8, keep_state=True)
    obs, info = env.reset()
    assert obs.shape == (3, 8, 8) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    obs, _, _, _, info = env.step(0)
    assert (obs == 1).all() and info["state"][0] == 1


def test_pixel_observation_needs_rgb_array():
    with pytest.raises(KeelError, match="rgb_array"):
        PixelObservation(Counting())


def test_frame_stack_pads_with_the_first_frame_and_keeps_oldest_first():
    env = FrameStack(PixelObservation(Counting(end=100, render_mode="rgb_array"), size=4), 3)
    assert env.observation_space.shape == (9, 4, 4) and env.observation_space.dtype == np.uint8
    obs, _ = env.reset()
    assert obs.shape == (9, 4, 4) and (obs == 0).all()
    env.step(0)
    obs, *_ = env.step(0)
    assert [int(obs[3 * i].mean()) for i in range(3)] == [0, 1, 2]   # channels 0-2 oldest, 6-8 newest
    obs, *_ = env.step(0)
    assert [int(obs[3 * i].mean()) for i in range(3)] == [1, 2, 3]
    assert np.array_equal(obs[0:3], np.ones((3, 4, 4), np.uint8))
    obs, _ = env.reset()
    assert (obs == 0).all()


def test_pixel_env_draws_one_frame_per_agent_step():
    env = pixel_env(COUNTING, size=8, action_repeat=4, frame_stack=2, end=100)
    assert [type(e).__name__ for e in (env, env.env, env.env.env)] == ["FrameStack", "PixelObservation", "ActionRepeat"]
    assert (action_repeat_of(env), frame_stack_of(env)) == (4, 2)
    assert (action_repeat_of(env.unwrapped), frame_stack_of(env.unwrapped)) == (1, 1)
    env.reset()
    for _ in range(3):
        obs, *_ = env.step(0)
    assert obs.shape == (6, 8, 8)
    assert (env.unwrapped.steps, env.unwrapped.renders) == (12, 1 + 3)
    assert int(obs[3].mean()) == 12


def test_make_env_pixel_options_route_through_pixel_env():
    env = make_env(COUNTING, kwargs={"pixels": None, "action_repeat": 3, "end": 100})
    assert isinstance(env, ActionRepeat)
    env.reset()
    assert env.step(0)[1] == 1 + 2 + 3


@pytest.mark.skipif(NO_GL is not None, reason=f"no offscreen rendering: {NO_GL}")
def test_inverted_pendulum_pixels():
    env = make_env("InvertedPendulum-v5", kwargs={"pixels": 64, "keep_state": True})
    assert env.unwrapped.model.vis.quality.shadowsize == 0 and env.unwrapped.model.vis.quality.offsamples == 0
    obs, info = env.reset(seed=0)
    assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    assert info["state"].shape == (4,)
    obs, r, *_ = env.step(env.action_space.sample())
    assert obs.shape == (3, 64, 64) and np.isfinite(r) and obs.max() > 0
    env.close()
