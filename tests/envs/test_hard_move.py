"""keel/HardMove-v0: its spaces for n = 4, 6, 8, 10 and the message for another n, the actuators'
motions by hand, determinism under a seed, the arrival reward, rewards within their bounds, episodes
that end, a scripted policy that reaches the target, a frame, and a saved and restored state that
continues bit for bit."""
import gymnasium as gym
import numpy as np
import pytest

import keelrl  # noqa: F401  (registers the hybrid environments)
from keelrl.envs.hybrid import hard_move as H
from keelrl.envs.hybrid.catch_point import DAMPING, DT
from keelrl.envs.state import env_state, set_env_state


def _random_episode(env, rng):
    k = env.action_space.spaces[0].n
    rewards, obs_seen, info = [], [], {}
    for _ in range(100):
        obs, r, term, trunc, info = env.step((int(rng.integers(k)), rng.uniform(-1, 1, k).astype(np.float32)))
        rewards.append(r)
        obs_seen.append(obs)
        if term or trunc:
            return rewards, obs_seen, term, trunc, info
    return rewards, obs_seen, False, False, info


def scripted(env, obs):
    """The action whose motion points most towards where the agent should head (the target, less the
    drift its velocity will still carry it), pushed in proportion to the distance left."""
    vel, to_target = obs[:2].astype(np.float64), obs[2:].astype(np.float64)
    want = to_target - 3 * vel * (1 - DAMPING) * DT
    motions = env.unwrapped.motions
    k = int(np.argmax(motions @ want))
    params = np.zeros(len(motions), np.float32)
    params[k] = min(4 * np.linalg.norm(want), 1.0)
    return k, params


@pytest.mark.parametrize("n", H.ACTUATOR_COUNTS)
def test_spaces_have_two_to_the_n_actions_with_a_parameter_each(n):
    env = gym.make("keel/HardMove-v0", n=n)
    discrete, params = env.action_space.spaces
    assert discrete.n == 2 ** n and params.shape == (2 ** n,) and (params.low == -1).all() and (params.high == 1).all()
    spaces = keelrl.Spaces.of(env)
    assert spaces.hybrid and spaces.num_actions == 2 ** n
    assert spaces.param_slices == tuple((k, k + 1) for k in range(2 ** n))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4,) and obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert env.spec.max_episode_steps == 30


def test_the_default_is_four_actuators_and_other_counts_are_refused():
    assert gym.make("keel/HardMove-v0").action_space.spaces[0].n == 16
    for bad in (3, 5, 12, 4.0, True):
        with pytest.raises(ValueError, match=r"n \(the number of actuators\) must be one of 4, 6, 8, 10, got"):
            H.HardMoveEnv(n=bad)


def test_the_motions_add_the_actuators_that_are_on():
    m = H.motions(4)   # actuators along +x, +y, -x, -y; the longest sum, two at right angles, is sqrt 2
    root = 1 / np.sqrt(2)
    np.testing.assert_allclose(m[0b0000], [0, 0])
    np.testing.assert_allclose(m[0b1000], [root, 0], atol=1e-12)      # the first digit is actuator 0 (+x)
    np.testing.assert_allclose(m[0b0100], [0, root], atol=1e-12)
    np.testing.assert_allclose(m[0b1100], [root, root], atol=1e-12)
    np.testing.assert_allclose(m[0b1010], [0, 0], atol=1e-12)         # +x and -x cancel
    for n in H.ACTUATOR_COUNTS:
        lengths = np.linalg.norm(H.motions(n), axis=1)
        assert lengths.max() == pytest.approx(1.0) and lengths[0] == 0.0
    np.testing.assert_array_equal(H.actuator_directions(6)[1], [0.5, 0.866])   # rounded to 3 decimals


def test_a_step_pushes_with_twice_the_parameter_and_arriving_pays_twenty():
    env = gym.make("keel/HardMove-v0")
    env.reset(seed=0)
    u = env.unwrapped
    u.pos, u.target = np.zeros(2), np.array([1.0, 0.0])
    params = np.zeros(16, np.float32)
    params[0b1000] = 0.5
    _, r, term, _, info = env.step((0b1000, params))
    np.testing.assert_allclose(u.vel, [0.1 / np.sqrt(2), 0.0], atol=1e-12)   # 0.1 * 2 * 0.5 * (1/sqrt 2, 0)
    assert not term and r == pytest.approx(-(1 - 0.01 / np.sqrt(2)) ** 2) and info == {"success": False}
    u.target = u.pos + np.array([0.1, -0.1])
    _, r, term, _, info = env.step((0, params))   # all off: coast
    assert term and info["success"] and 19.96 <= r <= 20.0


def test_the_same_seed_and_actions_give_the_same_episode():
    episodes = []
    for _ in range(2):
        env = gym.make("keel/HardMove-v0", n=6)
        env.reset(seed=7)
        episodes.append(_random_episode(env, np.random.default_rng(3))[:2])
    (r1, o1), (r2, o2) = episodes
    assert r1 == r2 and all(np.array_equal(a, b) for a, b in zip(o1, o2))


@pytest.mark.parametrize("n", H.ACTUATOR_COUNTS)
@pytest.mark.parametrize("seed", range(5))
def test_rewards_are_bounded_and_episodes_end(n, seed):
    """d <= 2 sqrt 2 at the start, and a step moves at most 0.08: 30 steps keep d² below 27."""
    env = gym.make("keel/HardMove-v0", n=n)
    env.reset(seed=seed)
    rewards, obs_seen, term, trunc, info = _random_episode(env, np.random.default_rng(seed))
    assert (term or trunc) and len(rewards) <= 30 and term == info["success"]
    assert all(-27.0 < r <= 0.0 for r in rewards[:-1]) and -27.0 < rewards[-1] <= 20.0
    assert all(env.observation_space.contains(o) for o in obs_seen)


@pytest.mark.parametrize("n", H.ACTUATOR_COUNTS)
def test_a_scripted_policy_reaches_the_target(n):
    """The greedy script arrives within 30 actions on 19 or 20 of seeds 0-19, whatever n."""
    arrived = 0
    for seed in range(20):
        env = gym.make("keel/HardMove-v0", n=n)
        obs, _ = env.reset(seed=seed)
        for _ in range(30):
            obs, r, term, trunc, info = env.step(scripted(env, obs))
            if term or trunc:
                break
        arrived += info["success"]
    assert arrived >= 16


def test_a_frame_is_drawn():
    env = gym.make("keel/HardMove-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (200, 200, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 4   # a few colours drawn
    with pytest.raises(ValueError, match=r"index in 0\.\.15, 16 parameters"):
        env.step((0, np.zeros(4, np.float32)))


def test_a_restored_state_continues_bit_for_bit():
    env = gym.make("keel/HardMove-v0", n=8)
    obs, _ = env.reset(seed=5)
    for _ in range(4):
        obs, *_ = env.step(scripted(env, obs))
    state = env_state(env)
    assert state["unsaved"] == []
    copy = gym.make("keel/HardMove-v0", n=8)
    copy.reset(seed=99)
    set_env_state(copy, state)
    for _ in range(30):
        a = scripted(env, obs)
        obs, r1, t1, tr1, i1 = env.step(a)
        obs2, r2, t2, tr2, i2 = copy.step(a)
        assert np.array_equal(obs, obs2) and r1 == r2 and (t1, tr1) == (t2, tr2) and i1 == i2
        if t1 or tr1:
            break
    assert t1
