"""DeepMind Control Suite tasks (Tassa et al. 2018) as gymnasium environments, by the id `dmc:DOMAIN-TASK`
(`dmc:cheetah-run`, `dmc:ball_in_cup-catch`).

An episode is dm_control's own: 1000 control steps for the suite tasks, after which the step says
truncated=True, terminated=False (dm_control's last step with discount 1). A last step with discount 0
would be a termination; no suite task ends early. Actions are the action_spec's Box, [-1, 1] for the suite.
"""
from __future__ import annotations

import difflib
import logging
import os

import gymnasium as gym
import numpy as np

from keelrl.envs.pixels import GL_HINT, fast_render
from keelrl.envs.state import mjdata_arrays, set_mjdata_arrays
from keelrl.errors import KeelError

os.environ.setdefault("MUJOCO_GL", "egl")

DMC_PREFIX = "dmc:"

PAPER_ACTION_REPEAT = {
    "cartpole-swingup": 8,
    "reacher-easy": 4,
    "cheetah-run": 4,
    "finger-spin": 2,
    "ball_in_cup-catch": 4,
    "walker-walk": 2,
}
"""Action repeat of the six tasks of the PlaNet benchmark (Hafner et al. 2019), as the pixel-based papers after it
tabulate them (SAC-AE, Yarats et al. 2019; CURL; DrQ). SLAC (Lee et al. 2020) released configs with the same values
for its four tasks (cheetah 4, walker 2, ball_in_cup 4, finger 2), though its NeurIPS result files are named
finger_spin_ar1, and PlaNet's own code defaults ball_in_cup to 6: docs/pixel_environments.md. An episode of 1000
environment steps is 1000 / repeat agent steps."""


def is_dmc_id(env_id: str) -> bool:
    return env_id.startswith(DMC_PREFIX)


def _suite():
    """dm_control.suite, or a KeelError saying why it cannot be imported (importing it loads the OpenGL
    backend that MUJOCO_GL names, even for state observations)."""
    try:
        from dm_control import suite
    except Exception as e:
        raise KeelError(f"dm_control cannot be imported with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} "
                        f"({type(e).__name__}: {e}); {GL_HINT}") from None
    logging.getLogger("absl").addFilter(_quiet_settotalmass)
    return suite


def _quiet_settotalmass(record: logging.LogRecord) -> bool:
    """MuJoCo warns that some suite models' `settotalmass` is deprecated each time a task is built:
    dm_control's business, not the user's, so that one warning is not printed."""
    return "settotalmass" not in record.getMessage()


def all_tasks() -> list[str]:
    """Every suite task as DOMAIN-TASK (dm_control.suite.ALL_TASKS)."""
    return [f"{d}-{t}" for d, t in _suite().ALL_TASKS]


def parse_dmc_id(env_id: str) -> tuple[str, str]:
    """'dmc:cheetah-run' -> ('cheetah', 'run'), or a one-line KeelError naming close matches and every task."""
    name = env_id[len(DMC_PREFIX):] if is_dmc_id(env_id) else env_id
    domain, _, task = name.partition("-")
    known = all_tasks()
    if name in known:
        return domain, task
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(DMC_PREFIX + c for c in close)}?" if close else ""
    raise KeelError(f"unknown dm_control task {env_id!r}.{hint} The suite has (as dmc:DOMAIN-TASK): {', '.join(known)}")


def default_camera(domain: str) -> int:
    """Camera 0 of every domain but quadruped, whose camera 2 follows it (as in SAC-AE and DrQ)."""
    return 2 if domain == "quadruped" else 0


class DMCEnv(gym.Env):
    """A dm_control suite task. Observations: uint8 pixels [3, size, size] (from_pixels) or the flattened
    state vector (float64, the observation dict's entries in order). `reset(seed=s)` reseeds the task's
    random state, so the same seed gives the same first frame.

    render() gives the frame as [size, size, 3] (gymnasium's layout) when render_mode="rgb_array";
    keelrl.envs.pixels.PixelObservation builds the pixel observation from it after an action repeat,
    so the frames skipped by the repeat are never drawn."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, domain: str, task: str, size: int = 64, camera_id: int | None = None,
                 from_pixels: bool = True, render_mode: str | None = None, shadows: bool = False):
        parse_dmc_id(f"{domain}-{task}")
        if render_mode not in (None, "rgb_array"):
            raise KeelError(f"dm_control tasks render as render_mode='rgb_array' only, got {render_mode!r}")
        if not (isinstance(size, int) and size > 0):
            raise KeelError(f"size is the frame's side in pixels, a positive int, got {size!r}")
        self.domain, self.task, self.size, self.from_pixels = domain, task, size, from_pixels
        self.camera_id = default_camera(domain) if camera_id is None else camera_id
        self.render_mode = render_mode
        self._env = _suite().load(domain, task)
        ncam = self._env.physics.model.ncam
        if isinstance(self.camera_id, int) and not -1 <= self.camera_id < ncam:
            raise KeelError(f"dmc:{domain}-{task} has cameras -1 (free) to {ncam - 1}, got camera_id={self.camera_id}")
        if not shadows:
            fast_render(self._env.physics.model)
        self._camera = None  # made at the first frame, after fast_render
        spec = self._env.action_spec()
        self.action_space = gym.spaces.Box(spec.minimum.astype(np.float32), spec.maximum.astype(np.float32),
                                           dtype=np.float32)
        if from_pixels:
            self.observation_space = gym.spaces.Box(0, 255, (3, size, size), np.uint8)
        else:
            dim = sum(int(np.prod(s.shape)) for s in self._env.observation_spec().values())
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float64)
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self._env.control_timestep())}

    @property
    def physics(self):
        """dm_control's Physics of the task (physics.data.time, physics.get_state(), ...)."""
        return self._env.physics

    def control_timestep(self) -> float:
        return self._env.control_timestep()

    def render(self) -> np.ndarray:
        """The camera's frame, uint8 [size, size, 3]."""
        if self._camera is None:
            from dm_control.mujoco import Camera
            self._camera = Camera(self.physics, self.size, self.size, self.camera_id)
        return self._camera.render().copy()  # the camera reuses its buffer

    def _obs(self, observation: dict) -> np.ndarray:
        if self.from_pixels:
            return np.ascontiguousarray(self.render().transpose(2, 0, 1))  # [H, W, C] -> [C, H, W]
        return np.concatenate([np.asarray(v, np.float64).ravel() for v in observation.values()])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.task.random.seed(seed)
        step = self._env.reset()
        return self._obs(step.observation), {}

    def step(self, action):
        step = self._env.step(np.asarray(action, np.float64))
        terminated = bool(step.last() and step.discount == 0.0)
        truncated = bool(step.last() and not terminated)
        return self._obs(step.observation), float(step.reward or 0.0), terminated, truncated, {}

    def close(self) -> None:
        """Free the frame's scene and the GL context (the environment cannot be used afterwards)."""
        if self._camera is not None:
            self._camera._scene.free()  # dm_control's Physics.render frees its cameras' scenes the same way
            self._camera = None
        self._env.physics.free()

    # keelrl.envs.state protocol: a checkpoint holds the MjData arrays, dm_control's step counter and the
    # task's random state, so a resumed episode goes on bit for bit.
    def state_dict(self) -> dict:
        return {"mjdata": mjdata_arrays(self.physics.data.ptr), "step_count": self._env._step_count,
                "reset_next_step": self._env._reset_next_step, "task_random": self._env.task.random.get_state(),
                "np_random": self.np_random.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        import mujoco
        set_mjdata_arrays(self.physics.data.ptr, state["mjdata"])
        # dm_control steps as mj_step2 then mj_step1, so a step starts from the contacts and constraints
        # (efc_*) of mj_step1, which set_mjdata_arrays skips (sized by the contacts): recompute them.
        mujoco.mj_step1(self.physics.model.ptr, self.physics.data.ptr)
        self._env._step_count = state["step_count"]
        self._env._reset_next_step = state["reset_next_step"]
        self._env.task.random.set_state(state["task_random"])
        self.np_random.bit_generator.state = state["np_random"]
