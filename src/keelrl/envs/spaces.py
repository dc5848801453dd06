"""Space checks an algorithm's spec names (`AlgoSpec.spaces`): each takes the Spaces and the name of
where they come from, and returns None when the algorithm accepts them, else what is wrong. The
registry adds which algorithms would accept them instead (keelrl.algos.check_spaces)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from keelrl.types import Spaces, is_hybrid


def _flat_box(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 1


def _bounded_box(space: gym.Space) -> bool:
    return _flat_box(space) and bool(np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)))


def _observations(spaces: Spaces) -> str | None:
    if not _flat_box(spaces.observation):
        return f"needs flat Box observations (a vector), got {spaces.observation}"
    return None


def describe(space: gym.Space) -> str:
    """A space for messages: hybrid spaces by their parts' sizes."""
    if is_hybrid(space):
        return f"hybrid actions Tuple(Discrete({space.spaces[0].n}), Box({space.spaces[1].shape[0]}))"
    return str(space)


def continuous_actions(spaces: Spaces, source: str) -> str | None:
    """Flat Box observations and a 1-D action Box with finite bounds."""
    if not isinstance(spaces.action, gym.spaces.Box):
        return f"needs continuous (Box) actions, but {source} has {describe(spaces.action)}"
    if not _bounded_box(spaces.action):
        return f"needs a 1-D action Box with finite bounds, got {spaces.action}"
    return _observations(spaces)


def is_pixels(space: gym.Space) -> bool:
    """Image observations: a Box [C, H, W] (channels first, as keelrl.envs.pixels gives them)."""
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3


def pixels_continuous_actions(spaces: Spaces, source: str) -> str | None:
    """Pixel observations Box [C, H, W] and a 1-D action Box with finite bounds."""
    if not is_pixels(spaces.observation):
        return (f"needs pixel observations, a Box [C, H, W] (e.g. dmc:cheetah-run, or --env-kwargs pixels 64), "
                f"but {source} has {spaces.observation}")
    if not isinstance(spaces.action, gym.spaces.Box):
        return f"needs continuous (Box) actions, but {source} has {describe(spaces.action)}"
    if not _bounded_box(spaces.action):
        return f"needs a 1-D action Box with finite bounds, got {spaces.action}"
    return None


def discrete_actions(spaces: Spaces, source: str) -> str | None:
    """Flat Box observations and Discrete(K) actions numbered from 0."""
    if not isinstance(spaces.action, gym.spaces.Discrete):
        return f"needs discrete actions, but {source} has {describe(spaces.action)}"
    if int(spaces.action.start) != 0:
        return f"needs a Discrete space starting at 0, {source} has {spaces.action}"
    return _observations(spaces)


def box_or_discrete_actions(spaces: Spaces, source: str) -> str | None:
    """Flat Box observations and either a bounded 1-D action Box or Discrete(K) actions."""
    if isinstance(spaces.action, gym.spaces.Discrete):
        return discrete_actions(spaces, source)
    if not _bounded_box(spaces.action):
        return (f"needs a Discrete action space or a 1-D action Box with finite bounds, but {source} has "
                f"{describe(spaces.action)}")
    return _observations(spaces)


def hybrid_actions(spaces: Spaces, source: str) -> str | None:
    """Flat Box observations and hybrid Tuple(Discrete(K), Box(P)) actions with finite parameter bounds."""
    if not spaces.hybrid:
        return f"needs hybrid actions, Tuple(Discrete(K), Box(P)), but {source} has {describe(spaces.action)}"
    if not _bounded_box(spaces.action.spaces[1]):
        return f"needs finite bounds on the parameters of its hybrid actions, got {spaces.action.spaces[1]}"
    return _observations(spaces)


def action_kind(space: gym.Space) -> str:
    """'discrete', 'continuous', 'hybrid', or the space's class name, for messages."""
    if is_hybrid(space):
        return "hybrid"
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    if isinstance(space, gym.spaces.Box):
        return "continuous"
    return type(space).__name__


def random_actions(space: gym.Space, n: int, rng: np.random.Generator):
    """n uniform random actions of a Box, Discrete or hybrid space, drawn from `rng`, in the form a
    vector environment steps: [n, A] floats, [n] indices, or (indices [n], parameters [n, P])."""
    if is_hybrid(space):
        discrete, box = space.spaces
        return (rng.integers(0, discrete.n, size=n),
                rng.uniform(box.low, box.high, size=(n, box.shape[0])).astype(np.float32))
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(0, space.n, size=n)
    return rng.uniform(space.low, space.high, size=(n, space.shape[0])).astype(np.float32)
