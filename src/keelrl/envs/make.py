"""Building gymnasium environments, with clear errors for ids and spaces we cannot use.

Vector environments use gymnasium's SAME_STEP autoreset: when a copy's episode ends, the step
returns the reset observation and puts the true last observation in info["final_obs"], so the
transition stored is (s, a, r, s_final) and the target bootstraps through a time-limit truncation
but not through a termination.
"""
from __future__ import annotations

import contextvars
import difflib
import importlib
import os
import re
import sys
from contextlib import contextmanager
from typing import Callable

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from keelrl.envs.dmc import PAPER_ACTION_REPEAT, DMCEnv, is_dmc_id, parse_dmc_id
from keelrl.envs.pixels import PIXEL_OPTIONS, ActionRepeat, FrameStack, PixelObservation, positive_int
from keelrl.errors import KeelError

os.environ.setdefault("MUJOCO_GL", "egl")


def _known_ids() -> list[str]:
    return sorted(gym.registry.keys())


MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


_SEARCH_CWD: contextvars.ContextVar[bool] = contextvars.ContextVar("keelrl_search_cwd", default=True)


@contextmanager
def names_from_a_file():
    """Within this block, module names come from a file (a run folder's config.json, a checkpoint):
    they are imported from installed packages and PYTHONPATH only, never from the current folder, so
    a shared run folder cannot get a module of its own imported by unpacking it beside one. A module
    of the current folder is imported once the user names it (keel --import MODULE)."""
    token = _SEARCH_CWD.set(False)
    try:
        yield
    finally:
        _SEARCH_CWD.reset(token)


def import_module(name: str, why: str) -> None:
    """Import a user's module by its dotted name, or raise a one-line KeelError. Only a module name is
    taken, never a path. The current folder is searched after the installed packages (never before:
    a file there cannot shadow one of them), and not at all for names read from a file (`names_from_a_file`)."""
    if not MODULE_NAME.fullmatch(str(name)):
        raise KeelError(f"{name!r} ({why}) is not a module name; give a dotted Python name such as mypkg or mypkg.envs")
    cwd = os.getcwd()
    if _SEARCH_CWD.get() and cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        top = name.split(".")[0]
        if not _SEARCH_CWD.get() and e.name == top and (os.path.exists(f"{top}.py") or os.path.isdir(top)):
            raise KeelError(f"module {name!r} ({why}) is in the current folder, which names read from a run folder "
                            f"or checkpoint are not imported from; if you trust it, name it yourself: "
                            f"keel --import {top} ...") from None
        raise KeelError(f"cannot import module {name!r} ({why}): {type(e).__name__}: {e}") from None
    except Exception as e:
        raise KeelError(f"cannot import module {name!r} ({why}): {type(e).__name__}: {e}") from None


def check_env_id(env_id: str) -> None:
    """Raise KeelError naming close matches if `env_id` is not a registered gymnasium id. An id
    `module:EnvId` (gymnasium's form) imports `module` first, which registers EnvId; `dmc:DOMAIN-TASK`
    names a dm_control suite task (keelrl.envs.dmc) instead."""
    if is_dmc_id(env_id):
        parse_dmc_id(env_id)
        return
    module, sep, name = env_id.rpartition(":")
    if sep:
        import_module(module, f"named by the environment id {env_id!r}")
        env_id = name
    if env_id in gym.registry:
        return
    close = difflib.get_close_matches(env_id, _known_ids(), n=3, cutoff=0.6)
    hint = (f" Did you mean {', '.join(close)}?" if close else
            " See gymnasium.pprint_registry() for the ids; an environment of your own: MODULE:EnvId, or keel --import MODULE.")
    raise KeelError(f"unknown environment id {env_id!r}.{hint}")


def env_label(env_id: str) -> str:
    """The id without gymnasium's `module:` prefix, for messages and folder names."""
    return env_id.rpartition(":")[2]


def resolve_wrapper(path: str) -> Callable[[gym.Env], gym.Env]:
    """'module:name' -> the callable `name` of `module`, applied as wrapper(env)."""
    module, sep, attr = path.partition(":")
    if not sep or not module or not attr:
        raise KeelError(f"a wrapper is given as MODULE:NAME (e.g. gymnasium.wrappers:FlattenObservation), got {path!r}")
    import_module(module, f"named by the wrapper {path!r}")
    fn = getattr(sys.modules[module], attr, None)
    if not callable(fn):
        raise KeelError(f"module {module!r} has no callable {attr!r} (the wrapper {path!r})")
    return fn


def make_env(env_id: str, render_mode: str | None = None, kwargs: dict | None = None,
             wrappers: tuple[str, ...] | list[str] = ()) -> gym.Env:
    """One environment by gymnasium id (classic control, MuJoCo v5, `module:EnvId`, ...) or dm_control
    id (`dmc:cheetah-run`), made with `kwargs` and wrapped by each of `wrappers` ('module:name', applied
    in order). `render_mode` is passed only when asked for, so an environment that takes no such
    argument still builds. The kwargs `pixels` (frame size; None or 0: the state), `action_repeat`, `frame_stack` and
    `keep_state` build it through `pixel_env`; a dmc: id always does, with pixels=64
    and the papers' action repeat of the task (PAPER_ACTION_REPEAT; 1 for other tasks) unless told otherwise."""
    check_env_id(env_id)
    extra = dict(kwargs or {})
    if render_mode is not None:
        extra["render_mode"] = render_mode
    if is_dmc_id(env_id) or PIXEL_OPTIONS & extra.keys():
        size = extra.pop("pixels", 64 if is_dmc_id(env_id) else None)
        if is_dmc_id(env_id):   # the papers' action repeat of the task unless the run says otherwise
            extra.setdefault("action_repeat", PAPER_ACTION_REPEAT.get(env_id[len("dmc:"):], 1))
        try:
            env = pixel_env(env_id, size=size, **extra)
        except TypeError as e:
            raise KeelError(f"environment {env_id!r} does not take the arguments {sorted(extra)}: {e}") from None
    else:
        try:
            env = gym.make(env_id, **extra)
        except gym.error.DependencyNotInstalled as e:
            raise KeelError(f"environment {env_id!r} needs a package that is not installed: {e}") from None
        except TypeError as e:
            if not extra:
                raise
            raise KeelError(f"environment {env_id!r} does not take the arguments {sorted(extra)}: {e}") from None
    for path in wrappers:
        env = resolve_wrapper(path)(env)
    return env


def make_vector_env(env_id: str, num_envs: int, kwargs: dict | None = None,
                    wrappers: tuple[str, ...] | list[str] = ()) -> SyncVectorEnv:
    """`num_envs` copies stepped in this process (faster than subprocesses for cheap envs on 2 cores)."""
    check_env_id(env_id)
    fns: list[Callable[[], gym.Env]] = [lambda: make_env(env_id, kwargs=kwargs, wrappers=wrappers)
                                        for _ in range(num_envs)]
    return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)


def true_next_obs(next_obs: np.ndarray, done: np.ndarray, info: dict) -> np.ndarray:
    """With SAME_STEP autoreset a finished copy's `next_obs` is already the reset observation; the
    observation that ended its episode is in info["final_obs"]. Returns the true next observations."""
    if not done.any():
        return next_obs
    real = next_obs.copy()
    for i in np.flatnonzero(done):
        real[i] = info["final_obs"][i]
    return real


def _is_mujoco_env(env_id: str) -> bool:
    """Whether a registered gymnasium id is a MujocoEnv (which renders at width x height directly)."""
    from gymnasium.envs.mujoco import MujocoEnv
    entry = gym.spec(env_id).entry_point
    creator = gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
    return isinstance(creator, type) and issubclass(creator, MujocoEnv)


def pixel_env(env_id: str, size: int | None = 64, action_repeat: int = 1, frame_stack: int = 1,
              keep_state: bool = False, **kwargs) -> gym.Env:
    """A gymnasium id (HalfCheetah-v5, module:EnvId) or `dmc:DOMAIN-TASK`, seen through frames of
    size x size: raw env -> ActionRepeat -> PixelObservation -> FrameStack (each only when asked for).
    `size=None` (or 0) keeps the environment's own observation (state-based runs with an action repeat).
    `kwargs` go to the environment (DMCEnv's camera_id, shadows; gymnasium's env kwargs)."""
    size = None if size is None or size is False or size == 0 else size  # pixels 0 from the command line: the state
    if size is not None:
        size = positive_int(size, "pixels (the frame size)")
        if kwargs.get("render_mode", "rgb_array") != "rgb_array":
            raise KeelError(f"pixel observations are rendered as rgb_array, got render_mode={kwargs['render_mode']!r}")
        kwargs["render_mode"] = "rgb_array"
    shadows = kwargs.pop("shadows", False)
    if is_dmc_id(env_id):
        if "from_pixels" in kwargs:
            raise KeelError("for dmc: ids give pixels=SIZE for frames, or pixels=None (or 0) for the state vector, "
                            "not from_pixels")
        env = DMCEnv(*parse_dmc_id(env_id), size=size or 64, from_pixels=False, shadows=shadows, **kwargs)
    else:
        check_env_id(env_id)
        if size is not None and _is_mujoco_env(env_id.rpartition(":")[2]):
            kwargs = {"width": size, "height": size, **kwargs}
        render_mode = kwargs.pop("render_mode", None)
        env = make_env(env_id, render_mode=render_mode, kwargs=kwargs)
    if action_repeat != 1:
        env = ActionRepeat(env, action_repeat)
    if size is not None:
        env = PixelObservation(env, size, keep_state=keep_state, shadows=shadows)
    if frame_stack != 1:
        env = FrameStack(env, frame_stack)
    return env
