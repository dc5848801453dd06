"""Collecting episodes for offline datasets: rolling a policy out in vector environments, and
cutting a replay buffer's transitions back into episodes (D4RL's `medium-replay` kind).

Both return minari `EpisodeBuffer`s (observations [T+1, O], actions [T, A], rewards,
terminations, truncations [T]) that data/offline.py's `write_minari` stores.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from gymnasium.vector import SyncVectorEnv
from minari.data_collector.episode_buffer import EpisodeBuffer


def _episode(obs: list, actions: list, rewards: list, terminated: bool, index: int, seed: int | None) -> EpisodeBuffer:
    """An episode of T = len(actions) steps; it ends in a termination, or else in a truncation."""
    t = len(actions)
    term = np.zeros(t, bool)
    trunc = np.zeros(t, bool)
    (term if terminated else trunc)[-1] = True
    return EpisodeBuffer(id=index, seed=seed, observations=np.asarray(obs), actions=np.asarray(actions),
                         rewards=np.asarray(rewards, np.float64), terminations=term, truncations=trunc)


def collect_episodes(envs: SyncVectorEnv, policy: Callable[[np.ndarray], np.ndarray], steps: int,
                     seed: int) -> list[EpisodeBuffer]:
    """Roll `policy(obs [N, O]) -> env actions [N, A]` out in `envs` (SAME_STEP autoreset) until
    exactly `steps` transitions are recorded; episodes still running then end as truncated.

    A time-limit end is a truncation (the final observation is kept); only the MDP's own end is a
    termination, so the dataset bootstraps exactly where the environment did.
    """
    n = envs.num_envs
    obs, _ = envs.reset(seed=seed)
    seeds = [seed + i for i in range(n)]  # gymnasium seeds copy i with seed + i; later resets continue its RNG
    cur = [{"obs": [obs[i]], "act": [], "rew": [], "seed": seeds[i]} for i in range(n)]
    episodes: list[EpisodeBuffer] = []
    recorded = 0
    while recorded < steps:
        action = policy(obs)
        next_obs, reward, term, trunc, info = envs.step(action)
        keep = min(n, steps - recorded)  # the last vector step records only what the budget still allows
        for i in range(keep):
            c = cur[i]
            done = bool(term[i] or trunc[i])
            c["act"].append(action[i])
            c["rew"].append(float(reward[i]))
            c["obs"].append(info["final_obs"][i] if done else next_obs[i])
            if done:
                episodes.append(_episode(c["obs"], c["act"], c["rew"], bool(term[i]), len(episodes), c["seed"]))
                cur[i] = {"obs": [next_obs[i]], "act": [], "rew": [], "seed": None}
        recorded += keep
        obs = next_obs
    for c in cur:  # unfinished episodes end where the budget did: a truncation
        if c["act"]:
            episodes.append(_episode(c["obs"], c["act"], c["rew"], False, len(episodes), c["seed"]))
    return episodes


def episodes_from_transitions(obs: np.ndarray, action: np.ndarray, reward: np.ndarray, next_obs: np.ndarray,
                              terminated: np.ndarray, num_envs: int = 1) -> list[EpisodeBuffer]:
    """Cut a replay buffer's transitions (in insertion order) back into episodes.

    The online loop inserts one transition per environment copy per step, so copy k's transitions
    are rows k, k + N, k + 2N, ...  Within a copy, transition t ends an episode when it terminated,
    or when the next transition does not start from its next observation (a time-limit reset); the
    copy's last transition ends its last episode as a truncation.
    """
    episodes: list[EpisodeBuffer] = []
    for k in range(num_envs):
        o, a, r, o2, d = obs[k::num_envs], action[k::num_envs], reward[k::num_envs], next_obs[k::num_envs], terminated[k::num_envs]
        if len(o) == 0:
            continue
        continues = np.zeros(len(o), bool)
        continues[:-1] = np.all(o2[:-1] == o[1:], axis=1) & (d[:-1] == 0)
        ends = np.flatnonzero(~continues)
        start = 0
        for end in ends:
            sl = slice(start, end + 1)
            observations = np.concatenate([o[sl], o2[end:end + 1]])
            episodes.append(_episode(list(observations), list(a[sl]), list(r[sl]), bool(d[end]), len(episodes), None))
            start = end + 1
    return episodes


def concatenate_episodes(*groups: list) -> list[EpisodeBuffer]:
    """Episodes of several datasets as one list with fresh ids (D4RL's `medium-expert`)."""
    out: list[EpisodeBuffer] = []
    for group in groups:
        for ep in group:
            out.append(EpisodeBuffer(id=len(out), seed=None, observations=np.asarray(ep.observations),
                                     actions=np.asarray(ep.actions), rewards=np.asarray(ep.rewards),
                                     terminations=np.asarray(ep.terminations), truncations=np.asarray(ep.truncations)))
    return out
