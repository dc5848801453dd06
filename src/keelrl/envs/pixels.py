"""Pixel observations: action repeat, frames as observations, frame stacking, and `pixel_env`, which puts
them together in the order the pixel-based papers use (PlaNet, SAC-AE, SLAC, DrQ):

    raw env (with its time limit) -> ActionRepeat -> PixelObservation -> FrameStack

The repeat sits innermost, so a frame is drawn once per agent step, after the repeat, never for the
steps it skips. Frames are uint8, channels first: [C, H, W]; a stack of k is [k*C, H, W], oldest first.
Rendering MuJoCo on a CPU needs MUJOCO_GL=egl (the default keelrl sets) or osmesa.
"""
from __future__ import annotations

import collections
import os

import gymnasium as gym
import numpy as np

from keelrl.errors import KeelError

os.environ.setdefault("MUJOCO_GL", "egl")

PIXEL_OPTIONS = frozenset({"pixels", "action_repeat", "frame_stack", "keep_state"})
"""make_env's kwargs that build the environment through `pixel_env` (`pixels` is its `size`)."""

GL_HINT = "on Debian, apt-get install libegl1 libegl-mesa0 for MUJOCO_GL=egl, or libosmesa6 for MUJOCO_GL=osmesa"


def rendering_problem() -> str | None:
    """None when MuJoCo can make an offscreen OpenGL context with the backend MUJOCO_GL names, else what is
    wrong and how to fix it (tests that draw frames skip with it)."""
    try:
        import mujoco
        ctx = mujoco.GLContext(8, 8)
        ctx.make_current()
        ctx.free()
    except Exception as e:
        backend = os.environ.get("MUJOCO_GL")
        return f"MuJoCo cannot render with MUJOCO_GL={backend!r} ({type(e).__name__}: {e}); {GL_HINT}"
    return None


def fast_render(model) -> None:
    """Turn off shadows and multisampling of a MuJoCo model's offscreen rendering (a mujoco.MjModel or
    dm_control's wrapper of one): 64x64 frames about 8x (dm_control) to 17x (gymnasium HalfCheetah) faster
    on a CPU (docs/pixel_environments.md).
    Affects rendering contexts made afterwards, so call it before the first frame."""
    model.vis.quality.shadowsize = 0
    model.vis.quality.offsamples = 0


def positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise KeelError(f"{what} must be a positive int, got {value!r}")
    return int(value)


class ActionRepeat(gym.Wrapper):
    """Apply each action `repeat` times and return the sum of the rewards and the last observation,
    stopping at the first termination or truncation (PlaNet's and SLAC's action repeat)."""

    def __init__(self, env: gym.Env, repeat: int):
        super().__init__(env)
        self.repeat = positive_int(repeat, "action_repeat")

    def step(self, action):
        total = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class PixelObservation(gym.Wrapper):
    """Replace the observation by the environment's rgb_array frame as uint8 [3, size, size].

    The environment must be made with render_mode="rgb_array"; one that renders at size x size
    (gymnasium MuJoCo with width=height=size, DMCEnv with size) needs no resize, any other frame is
    resized bilinearly. A MuJoCo model's shadows and multisampling are turned off unless `shadows`.
    With `keep_state`, the environment's own observation goes to info["state"]."""

    def __init__(self, env: gym.Env, size: int = 64, keep_state: bool = False, shadows: bool = False):
        super().__init__(env)
        if env.render_mode != "rgb_array":
            raise KeelError(f"PixelObservation needs an environment made with render_mode='rgb_array', "
                            f"got render_mode={env.render_mode!r}")
        self.size = positive_int(size, "the frame size")
        self.keep_state = keep_state
        import mujoco
        model = getattr(env.unwrapped, "model", None)
        if not shadows and isinstance(model, mujoco.MjModel):  # gymnasium MuJoCo; DMCEnv does its own
            fast_render(model)
        self.observation_space = gym.spaces.Box(0, 255, (3, self.size, self.size), np.uint8)

    def frame(self) -> np.ndarray:
        """The current frame, uint8 [3, size, size]."""
        img = np.asarray(self.env.render())
        if img.ndim != 3 or img.shape[2] != 3:
            raise KeelError(f"render() gave an array of shape {img.shape}, not an RGB frame [H, W, 3]")
        if img.shape[:2] != (self.size, self.size):
            from PIL import Image
            img = np.asarray(Image.fromarray(img.astype(np.uint8)).resize((self.size, self.size), Image.BILINEAR))
        return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.uint8)  # [H, W, C] -> [C, H, W]

    def _info(self, state, info: dict) -> dict:
        return {**info, "state": state} if self.keep_state else info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        state, info = self.env.reset(seed=seed, options=options)
        return self.frame(), self._info(state, info)

    def step(self, action):
        state, reward, terminated, truncated, info = self.env.step(action)
        return self.frame(), reward, terminated, truncated, self._info(state, info)


class FrameStack(gym.Wrapper):
    """Observation = the last k observations concatenated along the channel axis: [k*C, H, W], oldest
    first. After a reset the stack holds k copies of the first frame. (gymnasium's FrameStackObservation
    adds a new axis [k, C, H, W] instead.)"""

    def __init__(self, env: gym.Env, k: int):
        super().__init__(env)
        self.k = positive_int(k, "frame_stack")
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) < 1:
            raise KeelError(f"FrameStack needs Box observations [C, ...], got {space}")
        self.observation_space = gym.spaces.Box(np.concatenate([space.low] * self.k, axis=0),
                                                np.concatenate([space.high] * self.k, axis=0), dtype=space.dtype)
        self.frames: collections.deque = collections.deque(maxlen=self.k)

    def _obs(self) -> np.ndarray:
        return np.concatenate(self.frames, axis=0)  # k x [C, H, W] -> [k*C, H, W]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.frames.clear()
        self.frames.extend([obs] * self.k)
        return self._obs(), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames.append(obs)
        return self._obs(), reward, terminated, truncated, info


def _wrapper_of(env: gym.Env, kind: type) -> gym.Wrapper | None:
    """The outermost wrapper of type `kind` around an environment (or a vector environment's first copy)."""
    env = env.envs[0] if hasattr(env, "envs") else env
    while isinstance(env, gym.Wrapper):
        if isinstance(env, kind):
            return env
        env = env.env
    return None


def frame_stack_of(env: gym.Env) -> int:
    """k of the FrameStack an environment (or a vector environment's first copy) is wrapped in; 1 without one."""
    stack = _wrapper_of(env, FrameStack)
    return stack.k if stack is not None else 1


def action_repeat_of(env: gym.Env) -> int:
    """How many environment steps one agent step takes: the ActionRepeat an environment is wrapped in; 1 without one."""
    repeat = _wrapper_of(env, ActionRepeat)
    return repeat.repeat if repeat is not None else 1
