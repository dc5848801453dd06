"""keel/Platform-v0: its spaces, determinism under a seed, rewards that sum to at most 1, episodes
that end. (benchmarks/platform_check.py compares it step by step with the hybrid-platform package:
benchmarks/results/platform_check.json.)"""
import gymnasium as gym
import numpy as np
import pytest

import keelrl  # noqa: F401  (registers keel/Platform-v0)
from keelrl.envs.hybrid import platform as P


def _random_episode(env, rng):
    rewards, obs_seen, info = [], [], {}
    for _ in range(300):
        k = int(rng.integers(3))
        obs, r, term, trunc, info = env.step((k, rng.uniform(P.PARAM_LOW, P.PARAM_HIGH).astype(np.float32)))
        rewards.append(r)
        obs_seen.append(obs)
        if term or trunc:
            return rewards, obs_seen, term or trunc, info
    return rewards, obs_seen, False, info


def test_spaces_are_a_discrete_choice_and_its_parameters():
    env = gym.make("keel/Platform-v0")
    assert isinstance(env.action_space, gym.spaces.Tuple)
    discrete, params = env.action_space.spaces
    assert discrete.n == 3 and params.shape == (3,)
    np.testing.assert_array_equal(params.low, [0, 0, 0])
    np.testing.assert_array_equal(params.high, [30, 720, 430])
    assert P.PARAM_SLICES == ((0, 1), (1, 2), (2, 3))
    spaces = keelrl.Spaces.of(env)
    assert spaces.hybrid and spaces.num_actions == 3 and spaces.param_dim == 3 and spaces.param_slices == P.PARAM_SLICES
    obs, _ = env.reset(seed=0)
    assert obs.shape == (9,) and obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert env.spec.max_episode_steps == 200


def test_the_same_seed_and_actions_give_the_same_episode():
    episodes = []
    for _ in range(2):
        env = gym.make("keel/Platform-v0")
        env.reset(seed=7)
        episodes.append(_random_episode(env, np.random.default_rng(3))[:2])
    (r1, o1), (r2, o2) = episodes
    assert r1 == r2 and all(np.array_equal(a, b) for a, b in zip(o1, o2))
    other = gym.make("keel/Platform-v0")
    other.reset(seed=8)
    assert _random_episode(other, np.random.default_rng(3))[0] != r1   # the seed drives the noise


@pytest.mark.parametrize("seed", range(20))
def test_returns_are_at_most_one_and_episodes_end(seed):
    env = gym.make("keel/Platform-v0")
    env.reset(seed=seed)
    rewards, obs_seen, ended, info = _random_episode(env, np.random.default_rng(seed))
    assert ended and sum(rewards) <= 1.0 + 1e-9
    assert all(env.observation_space.contains(o) for o in obs_seen)
    assert "success" in info and "ticks" in info


def test_running_makes_progress_and_a_frame_is_drawn():
    env = gym.make("keel/Platform-v0", render_mode="rgb_array")
    env.reset(seed=0)
    obs, r, term, _, info = env.step((0, np.array([10.0, 0.0, 0.0], np.float32)))
    assert r > 0 and not term and info["ticks"] in (20, 21)
    frame = env.render()
    assert frame.shape == (120, 600, 3) and frame.dtype == np.uint8 and len(np.unique(frame.reshape(-1, 3), axis=0)) >= 4


CANDIDATES = [(0, p) for p in (1, 5, 30)] + [(1, d) for d in (0, 150, 300, 720)] + [(2, d) for d in (200, 300, 430)]
"""The scripted policy's menu: runs of three strengths, hops and leaps of several lengths."""


def _action(k, value):
    params = np.zeros(3, np.float32)
    params[k] = value
    return k, params


def lookahead_action(env, scratch, depth=2):
    """The scripted policy: every two-action sequence of the menu tried on a copy of the environment
    (its state and random generator, through keelrl's array states), the first action of the best
    taken: reaching the end is worth 10, an ending short of it -10, otherwise the progress made."""
    from keelrl.envs.state import env_state, set_env_state

    def best(state, d):
        top, choice = -np.inf, None
        for a in CANDIDATES:
            set_env_state(scratch, state)
            _, r, ended, _, info = scratch.step(_action(*a))
            value = r + (10.0 if info["success"] else -10.0) if ended else r + (best(env_state(scratch), d - 1)[0] if d > 1 else 0.0)
            if value > top:
                top, choice = value, a
        return top, choice
    return best(env_state(env), depth)[1]


def test_a_scripted_policy_crosses_the_course():
    """Platform is solvable with these dynamics: the lookahead policy reaches the end (it does on 9
    of seeds 0-9; seed 0 here), hopping the enemies and leaping the gaps, for a return of 1."""
    env = gym.make("keel/Platform-v0")
    env.reset(seed=0)
    scratch = P.PlatformEnv()
    scratch.reset(seed=0)
    total, kinds = 0.0, set()
    for _ in range(40):
        a = lookahead_action(env.unwrapped, scratch)
        _, r, term, trunc, info = env.step(_action(*a))
        total, kinds = total + r, kinds | {a[0]}
        if term or trunc:
            break
    assert info["success"] and total == pytest.approx(1.0, abs=1e-6) and kinds == {0, 1, 2}
