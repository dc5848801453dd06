"""Deterministic evaluation of a policy: N full episodes on a separate environment."""
from __future__ import annotations

from typing import Callable

import gymnasium as gym
import numpy as np

EVAL_SEED_OFFSET = 10_000


def evaluate(act: Callable[[np.ndarray], np.ndarray], env: gym.Env, episodes: int, seed: int,
             frames: list | None = None) -> np.ndarray:
    """Run `episodes` episodes with `act(obs[1, O]) -> action[1, A]`; return their returns.

    The first reset is seeded with `seed`, later ones continue the env's RNG, so an evaluation is a
    pure function of (policy, seed): it does not depend on when it runs or on a resume. Rendered
    frames are appended to `frames` when it is given (the env must have render_mode="rgb_array").
    """
    returns = np.zeros(episodes)
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed if ep == 0 else None)
        done = False
        while not done:
            if frames is not None:
                frames.append(env.render())
            obs, r, term, trunc, _ = env.step(act(obs[None])[0])
            returns[ep] += float(r)
            done = term or trunc
    return returns
