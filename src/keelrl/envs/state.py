"""Environment state as plain values and arrays, for checkpoints that resume bit-for-bit without
pickling an environment (a pickled object can run code when it is loaded).

The state of an environment is read from every layer of it (each wrapper, then the unwrapped
environment): the instance attributes that hold numbers, strings, arrays and containers of them
(TimeLimit's step counter, CartPole's state, a probe's observation, ...), random generators as their
`bit_generator.state`, MuJoCo's MjData as its arrays (qpos, qvel, act, ctrl, the solver's warm
start, the derived quantities an environment may read before its next step) and its time, and,
up to two levels down, the same of small helper objects (a running-mean object of a normalization
wrapper). Restoring writes them into a freshly made copy of the same environment (same id, kwargs
and wrappers), whose construction-time parts (model, spaces, renderer) are already right.

An environment (or wrapper) of your own can define `state_dict()` (plain values and arrays) and
`load_state_dict(state)`; keelrl then uses those for its layer instead.

What cannot be saved this way (an attribute holding an object of another library, such as a Box2D
world) is named in the state's `unsaved` list: the loops warn about it when they write a checkpoint,
and a resume starts those environment copies on a new episode instead of continuing theirs.
"""
from __future__ import annotations

import collections
import types
import warnings
from typing import Any

import gymnasium as gym
import numpy as np

from keelrl.errors import KeelError

CONSTRUCTION = frozenset({"_saved_kwargs", "_ezpickle_args", "_ezpickle_kwargs", "spec", "_cached_spec",
                          "metadata", "_metadata", "render_mode"})
"""Attributes fixed when an environment is made, which a freshly made copy already has."""
DEPTH = 2
"""How many levels of helper objects below a layer are followed."""


def _mujoco_types() -> tuple[type, type] | None:
    try:
        import mujoco
    except ImportError:  # pragma: no cover  (mujoco is a dependency)
        return None
    return mujoco.MjModel, mujoco.MjData


def _static(v: Any) -> bool:
    """Parts made at construction and never changed by stepping: spaces, models, code."""
    mj = _mujoco_types()
    return (isinstance(v, (gym.Space, gym.envs.registration.EnvSpec, types.ModuleType, type, types.FunctionType,
                           types.MethodType, types.BuiltinFunctionType)) or callable(v) and not hasattr(v, "__dict__")
            or (mj is not None and isinstance(v, mj[0])))


def _plain(v: Any) -> bool:
    if v is None or isinstance(v, (bool, int, float, str, np.generic)):
        return not (isinstance(v, np.generic) and (v.dtype.hasobject or v.dtype.kind in "USV"))
    if isinstance(v, np.ndarray):
        return not (v.dtype.hasobject or v.dtype.kind in "USV")
    if isinstance(v, (list, tuple, collections.deque)):
        return all(_plain(x) for x in v)
    if isinstance(v, dict):
        return all(_plain(k) and _plain(x) for k, x in v.items())
    return False


def _copy(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, list):
        return [_copy(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_copy(x) for x in v)
    if isinstance(v, collections.deque):
        return collections.deque((_copy(x) for x in v), maxlen=v.maxlen)
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    return v


class _Reader:
    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.unsaved: list[str] = []

    def attrs(self, obj: Any, path: str, depth: int) -> dict:
        self.seen.add(id(obj))
        out = {}
        for k, v in vars(obj).items():
            if k in CONSTRUCTION or isinstance(v, gym.Env) or _static(v) or id(v) in self.seen and not _plain(v):
                continue
            got = self.value(v, f"{path}.{k}", depth)
            if got is not _UNSAVED:
                out[k] = got
        return out

    def value(self, v: Any, path: str, depth: int) -> Any:
        if _plain(v):
            return _copy(v)
        if isinstance(v, np.random.Generator):
            return {"__generator__": v.bit_generator.state}
        if isinstance(v, np.random.RandomState):
            return {"__random_state__": v.get_state()}
        mj = _mujoco_types()
        if mj is not None and isinstance(v, mj[1]):
            self.seen.add(id(v))
            return {"__mjdata__": mjdata_arrays(v)}
        if hasattr(v, "__dict__") and depth < DEPTH:
            return {"__object__": type(v).__qualname__, "attrs": self.attrs(v, path, depth + 1)}
        self.unsaved.append(f"{path} ({type(v).__module__}.{type(v).__qualname__})")
        return _UNSAVED


_UNSAVED = object()


def mjdata_arrays(data) -> dict:
    """Every array of a MuJoCo MjData (state, controls, warm start and derived quantities) and its time."""
    arrays = {}
    for name in dir(data):
        if name.startswith("_"):
            continue
        v = getattr(data, name)
        if isinstance(v, np.ndarray):
            arrays[name] = v.copy()
    return {"arrays": arrays, "time": float(data.time)}


def set_mjdata_arrays(data, state: dict) -> None:
    """Write `mjdata_arrays`' arrays back. Arrays sized by this step's contacts and constraints
    (efc_*) differ in size between two MjData and are recomputed by the next mj_step; they are skipped."""
    for name, arr in state["arrays"].items():
        cur = getattr(data, name, None)
        if isinstance(cur, np.ndarray) and cur.shape == arr.shape and cur.flags.writeable:
            cur[...] = arr
    data.time = state["time"]


def layers(env: gym.Env) -> list[gym.Env]:
    """The wrappers of `env`, outermost first, then the unwrapped environment."""
    out = [env]
    while isinstance(out[-1], gym.Wrapper):
        out.append(out[-1].env)
    return out


def _own_protocol(layer: gym.Env) -> bool:
    cls = type(layer)
    return callable(getattr(cls, "state_dict", None)) and callable(getattr(cls, "load_state_dict", None))


def env_state(env: gym.Env) -> dict:
    """{"layers": [{"class", "state"}...], "unsaved": [...]} of a single environment (see the module docstring)."""
    reader = _Reader()
    out = []
    for i, layer in enumerate(layers(env)):
        name = type(layer).__qualname__
        if _own_protocol(layer):
            state = {"__own__": layer.state_dict()}
        else:
            state = reader.attrs(layer, name, 0)
        out.append({"class": name, "state": state})
    return {"layers": out, "unsaved": reader.unsaved}


def _write(obj: Any, attrs: dict, path: str) -> None:
    for k, v in attrs.items():
        if isinstance(v, dict) and "__generator__" in v:
            state = v["__generator__"]
            cur = getattr(obj, k, None)
            if not isinstance(cur, np.random.Generator) or type(cur.bit_generator).__name__ != state["bit_generator"]:
                cur = np.random.Generator(getattr(np.random, state["bit_generator"])())
                setattr(obj, k, cur)
            cur.bit_generator.state = state
        elif isinstance(v, dict) and "__random_state__" in v:
            cur = getattr(obj, k, None)
            if not isinstance(cur, np.random.RandomState):
                cur = np.random.RandomState()
                setattr(obj, k, cur)
            cur.set_state(v["__random_state__"])
        elif isinstance(v, dict) and "__mjdata__" in v:
            set_mjdata_arrays(getattr(obj, k), v["__mjdata__"])
        elif isinstance(v, dict) and "__object__" in v:
            cur = getattr(obj, k, None)
            if cur is None or type(cur).__qualname__ != v["__object__"]:
                raise KeelError(f"the checkpoint's environment differs from this one at {path}.{k} "
                                f"({v['__object__']} there, {type(cur).__qualname__} here)")
            _write(cur, v["attrs"], f"{path}.{k}")
        else:
            setattr(obj, k, _copy(v))


def set_env_state(env: gym.Env, state: dict) -> None:
    """Write `env_state`'s result into `env`, a freshly made copy of the same environment."""
    mine = layers(env)
    names = [type(layer).__qualname__ for layer in mine]
    theirs = [entry["class"] for entry in state["layers"]]
    if names != theirs:
        raise KeelError(f"the checkpoint's environment is wrapped as {' > '.join(theirs)}, this one as "
                        f"{' > '.join(names)}: resume it with the environment, kwargs and wrappers it was started with")
    for layer, entry in zip(mine, state["layers"]):
        if isinstance(entry["state"], dict) and "__own__" in entry["state"]:
            layer.load_state_dict(entry["state"]["__own__"])
        else:
            _write(layer, entry["state"], type(layer).__qualname__)


def vector_state(venv) -> list[dict]:
    """The state of every copy of a SyncVectorEnv (SAME_STEP autoreset keeps no state between steps).
    Warns (once per process) when part of it cannot be saved."""
    states = [env_state(e) for e in venv.envs]
    unsaved = sorted({u for s in states for u in s["unsaved"]})
    if unsaved and tuple(unsaved) not in _WARNED:
        _WARNED.add(tuple(unsaved))
        warnings.warn(f"the environment holds state keelrl cannot save as arrays ({', '.join(unsaved[:3])}); a resumed "
                      f"run starts these environment copies on a new episode. Give the environment state_dict() and "
                      f"load_state_dict() to resume them exactly", RuntimeWarning, stacklevel=2)
    return states


_WARNED: set[tuple[str, ...]] = set()


def set_vector_state(venv, states: list[dict], restart_seed: int) -> dict[int, np.ndarray]:
    """Restore every copy of `venv`. A copy whose state could not be saved whole (`unsaved`) starts a
    new episode instead, reset with seed `restart_seed + i`; returns those copies' first observations."""
    if len(states) != len(venv.envs):
        raise KeelError(f"the checkpoint holds {len(states)} environment copies, the run has num_envs={len(venv.envs)}")
    restarted = {}
    for i, (e, s) in enumerate(zip(venv.envs, states)):
        if s["unsaved"]:
            restarted[i] = e.reset(seed=restart_seed + i)[0]
        else:
            set_env_state(e, s)
    # SyncVectorEnv keeps its own per-copy autoreset flags: after a SAME_STEP step they are all False.
    venv._autoreset_envs = np.zeros((len(states),), dtype=np.bool_)
    return restarted
