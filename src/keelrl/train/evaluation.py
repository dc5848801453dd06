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


def episode_starter(policy) -> Callable[[np.ndarray], None] | None:
    """The policy's `start_episodes(mask)` if it acts with memory of the episode so far (action
    chunks, a history of observations): the loops call it with a bool mask [N] of the environment
    copies whose episodes (re)start, before the policy acts on their first observation."""
    return getattr(policy, "start_episodes", None)


def evaluate(act: Callable[[np.ndarray], np.ndarray], env: gym.Env, episodes: int, seed: int,
             frames: list | None = None, successes: list | None = None,
             start_episode: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
    """Run `episodes` episodes with `act(obs[1, O]) -> action[1, A]`; return their returns.

    The first reset is seeded with `seed`, later ones continue the env's RNG, so an evaluation is a
    pure function of (policy, seed): it does not depend on when it runs or on a resume. Rendered
    frames are appended to `frames` when it is given (the env must have render_mode="rgb_array");
    each episode's info["success"] at its end to `successes` when it is given; `start_episode`
    (a policy's `episode_starter`) is told of each new episode.
    """
    returns = np.zeros(episodes)
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed if ep == 0 else None)
        if start_episode is not None:
            start_episode(np.ones(1, dtype=bool))
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
