"""Deterministic evaluation of a policy: N full episodes on a separate environment."""
from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np

EVAL_SEED_OFFSET = 10_000


def reports_success(env: gym.Env | None) -> bool:
    """Whether an environment tells, in its last step's info["success"], if an episode succeeded
    (it declares `reports_success = True`, as the hybrid-action tasks do)."""
    return env is not None and bool(getattr(env.unwrapped, "reports_success", False))


def evaluate(act: Callable[[np.ndarray], np.ndarray], env: gym.Env, episodes: int, seed: int,
             frames: list | None = None, successes: list | None = None) -> np.ndarray:
    """Run `episodes` episodes with `act(obs[1, O]) -> action[1, A]`; return their returns.

    The first reset is seeded with `seed`, later ones continue the env's RNG, so an evaluation is a
    pure function of (policy, seed): it does not depend on when it runs or on a resume. Rendered
    frames are appended to `frames` when it is given (the env must have render_mode="rgb_array");
    each episode's info["success"] at its end to `successes` when it is given.
    """
    returns = np.zeros(episodes)
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed if ep == 0 else None)
        done = False
        while not done:
            if frames is not None:
                frames.append(env.render())
            action = act(obs[None])
            action = tuple(a[0] for a in action) if isinstance(action, tuple) else action[0]  # hybrid: (k, params)
            obs, r, term, trunc, info = env.step(action)
            returns[ep] += float(r)
            done = term or trunc
        if successes is not None:
            successes.append(bool(info.get("success", False)))
    return returns
