"""Building gymnasium environments, with clear errors for ids and spaces we cannot use.

Vector environments use gymnasium's SAME_STEP autoreset: when a copy's episode ends, the step
returns the reset observation and puts the true last observation in info["final_obs"], so the
transition stored is (s, a, r, s_final) and the target bootstraps through a time-limit truncation
but not through a termination.
"""
from __future__ import annotations

import difflib
import os
import pickle
from typing import Callable

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from keelrl.errors import KeelError

os.environ.setdefault("MUJOCO_GL", "egl")


def _known_ids() -> list[str]:
    return sorted(gym.registry.keys())


def check_env_id(env_id: str) -> None:
    """Raise KeelError naming close matches if `env_id` is not a registered gymnasium id."""
    if env_id in gym.registry:
        return
    close = difflib.get_close_matches(env_id, _known_ids(), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else " See gymnasium.pprint_registry() for the ids."
    raise KeelError(f"unknown environment id {env_id!r}.{hint}")


def make_env(env_id: str, render_mode: str | None = None) -> gym.Env:
    """One environment by gymnasium id (classic control, Box2D where installed, MuJoCo v5, ...)."""
    check_env_id(env_id)
    try:
        return gym.make(env_id, render_mode=render_mode)
    except gym.error.DependencyNotInstalled as e:
        raise KeelError(f"environment {env_id!r} needs a package that is not installed: {e}") from None


def make_vector_env(env_id: str, num_envs: int) -> SyncVectorEnv:
    """`num_envs` copies stepped in this process (faster than subprocesses for cheap envs on 2 cores)."""
    check_env_id(env_id)
    fns: list[Callable[[], gym.Env]] = [lambda: make_env(env_id) for _ in range(num_envs)]
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


def _spaces(env: gym.Env | SyncVectorEnv) -> tuple[gym.Space, gym.Space, str]:
    obs_space = getattr(env, "single_observation_space", env.observation_space)
    act_space = getattr(env, "single_action_space", env.action_space)
    if getattr(env, "dataset_id", None):  # an offline dataset carries the spaces it was recorded with
        return obs_space, act_space, f"dataset {env.dataset_id}"
    spec = getattr(env, "spec", None) or getattr(getattr(env, "envs", [None])[0], "spec", None)
    return obs_space, act_space, spec.id if spec is not None else "this environment"


def require_flat_obs(env: gym.Env | SyncVectorEnv, algo: str) -> int:
    """Check that observations are a flat Box and actions a 1-D bounded Box or a Discrete; return O."""
    obs_space, act_space, name = _spaces(env)
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise KeelError(f"{algo} needs flat Box observations (a vector), got {obs_space}")
    if isinstance(act_space, gym.spaces.Discrete):
        return obs_space.shape[0]
    if not isinstance(act_space, gym.spaces.Box) or len(act_space.shape) != 1 \
            or not (np.all(np.isfinite(act_space.low)) and np.all(np.isfinite(act_space.high))):
        raise KeelError(f"{algo} needs a Discrete action space or a 1-D action Box with finite bounds, but {name} has {act_space}")
    return obs_space.shape[0]


def require_discrete(env: gym.Env | SyncVectorEnv, algo: str, alternatives: str = "SAC, TD3, DDPG or PPO") -> tuple[int, int]:
    """Check that observations are a flat Box and actions Discrete(K); return (O, K)."""
    obs_space, act_space, name = _spaces(env)
    if not isinstance(act_space, gym.spaces.Discrete):
        raise KeelError(f"{algo} needs discrete actions, but {name} has {act_space}; for continuous actions use {alternatives}")
    if int(act_space.start) != 0:
        raise KeelError(f"{algo} needs a Discrete space starting at 0, {name} has {act_space}")
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise KeelError(f"{algo} needs flat Box observations (a vector), got {obs_space}")
    return obs_space.shape[0], int(act_space.n)


def require_continuous(env: gym.Env | SyncVectorEnv, algo: str, alternatives: str = "DQN or PPO") -> tuple[int, int, np.ndarray, np.ndarray]:
    """Check that observations are a flat Box and actions a bounded Box; return (O, A, low, high)."""
    obs_space, act_space, name = _spaces(env)
    if not isinstance(act_space, gym.spaces.Box):
        raise KeelError(f"{algo} needs continuous (Box) actions, but {name} has {act_space}; "
                        f"for discrete actions use {alternatives}")
    if len(act_space.shape) != 1 or not (np.all(np.isfinite(act_space.low)) and np.all(np.isfinite(act_space.high))):
        raise KeelError(f"{algo} needs a 1-D action Box with finite bounds, got {act_space}")
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise KeelError(f"{algo} needs flat Box observations (a vector), got {obs_space}")
    return obs_space.shape[0], act_space.shape[0], act_space.low.astype(np.float32), act_space.high.astype(np.float32)


# ---- exact snapshots of environment state, for checkpoints that resume bit-for-bit

def env_snapshot(env: gym.Env) -> bytes:
    """Pickle an environment with its RNG and, for MuJoCo envs, its full MjData (which plain
    pickling of the env would rebuild from the model file and so lose)."""
    u = env.unwrapped
    extra = {"np_random": pickle.dumps(u.np_random)}
    if hasattr(u, "data") and type(u.data).__module__.startswith("mujoco"):
        extra["mjdata"] = pickle.dumps(u.data)
    return pickle.dumps({"env": pickle.dumps(env), **extra})


def env_restore(blob: bytes) -> gym.Env:
    parts = pickle.loads(blob)
    env = pickle.loads(parts["env"])
    u = env.unwrapped
    u._np_random = pickle.loads(parts["np_random"])
    if "mjdata" in parts:
        u.data = pickle.loads(parts["mjdata"])
    return env


def vector_snapshot(venv: SyncVectorEnv) -> list[bytes]:
    return [env_snapshot(e) for e in venv.envs]


def vector_restore(venv: SyncVectorEnv, blobs: list[bytes]) -> None:
    if len(blobs) != len(venv.envs):
        raise KeelError(f"checkpoint holds {len(blobs)} environment copies, the run has num_envs={len(venv.envs)}")
    for e in venv.envs:
        e.close()
    venv.envs = [env_restore(b) for b in blobs]
    # SyncVectorEnv keeps its own per-copy autoreset flags: after a SAME_STEP step they are all False.
    venv._autoreset_envs = np.zeros((len(blobs),), dtype=np.bool_)
