"""keel/CatchPoint-v0: its spaces, one step of the point mass by hand, determinism under a seed, the
catch reward and the 11 misses, rewards within their bounds, episodes that end, a scripted policy that
catches the point, a frame, and a saved and restored state that continues bit for bit."""
import gymnasium as gym
import numpy as np
import pytest

import keelrl  # noqa: F401  (registers the hybrid environments)
from keelrl.envs.hybrid import catch_point as C
from keelrl.envs.state import env_state, set_env_state


def _move(theta):
    return 0, np.array([theta], np.float32)


CATCH = (1, np.zeros(1, np.float32))


def _random_episode(env, rng):
    rewards, obs_seen, info = [], [], {}
    for _ in range(100):
        obs, r, term, trunc, info = env.step((int(rng.integers(2)), rng.uniform(-np.pi, np.pi, 1).astype(np.float32)))
        rewards.append(r)
        obs_seen.append(obs)
        if term or trunc:
            return rewards, obs_seen, term, trunc, info
    return rewards, obs_seen, False, False, info


def scripted(obs):
    """Move straight at the target; try a catch once coasting one step would end within 0.15 of it."""
    vel, to_target = obs[:2].astype(np.float64), obs[2:].astype(np.float64)
    if np.linalg.norm(to_target - vel * (1 - C.DAMPING) * C.DT) <= 0.15:
        return CATCH
    return _move(np.arctan2(to_target[0], to_target[1]))


def test_spaces_are_move_with_a_direction_and_catch_without_one():
    env = gym.make("keel/CatchPoint-v0")
    discrete, params = env.action_space.spaces
    assert discrete.n == 2 and params.shape == (1,)
    assert params.low[0] == np.float32(-np.pi) and params.high[0] == np.float32(np.pi)
    assert C.PARAM_SLICES == ((0, 1), (1, 1))
    spaces = keelrl.Spaces.of(env)
    assert spaces.hybrid and spaces.num_actions == 2 and spaces.param_dim == 1 and spaces.param_slices == C.PARAM_SLICES
    obs, _ = env.reset(seed=0)
    u = env.unwrapped
    assert obs.shape == (4,) and obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert ((-1 <= u.pos) & (u.pos <= 1)).all() and ((-1 <= u.target) & (u.target <= 1)).all()
    assert env.spec.max_episode_steps == 25


def test_a_move_pushes_along_sin_cos_and_a_catch_coasts():
    env = gym.make("keel/CatchPoint-v0")
    env.reset(seed=0)
    u = env.unwrapped
    u.pos, u.target = np.zeros(2), np.array([0.0, 1.0])
    obs, r, term, _, info = env.step(_move(0.0))   # theta = 0 points along +y
    np.testing.assert_allclose(u.vel, [0.0, 0.2], atol=1e-12)       # 0.75 * 0 + 0.1 * 2
    np.testing.assert_allclose(u.pos, [0.0, 0.02], atol=1e-12)      # + 0.1 * v
    np.testing.assert_allclose(obs, [0.0, 0.2, 0.0, 0.98], atol=1e-7)
    assert r == pytest.approx(-0.98 ** 2) and not term and info == {"success": False, "misses": 0}
    env.step(_move(np.pi / 2))   # along +x
    np.testing.assert_allclose(u.vel, [0.2, 0.15], atol=1e-12)
    _, r, term, _, info = env.step(CATCH)   # too far: a miss, the agent coasts on
    np.testing.assert_allclose(u.vel, [0.15, 0.1125], atol=1e-12)
    assert not term and info["misses"] == 1 and r == pytest.approx(-np.sum((u.pos - u.target) ** 2))


def test_a_catch_within_reach_pays_twenty_and_ends():
    env = gym.make("keel/CatchPoint-v0")
    env.reset(seed=0)
    u = env.unwrapped
    u.pos, u.vel, u.target = np.zeros(2), np.zeros(2), np.array([0.1, 0.1])
    _, r, term, _, info = env.step(CATCH)
    assert term and info["success"] and r == pytest.approx(20.0 - 0.02)


def test_the_eleventh_miss_ends_the_episode():
    env = gym.make("keel/CatchPoint-v0")
    env.reset(seed=0)
    env.unwrapped.target = env.unwrapped.pos + 5.0
    for miss in range(1, 12):
        _, r, term, trunc, info = env.step(CATCH)
        assert info["misses"] == miss and term == (miss == C.MAX_MISSES) and not trunc and r == pytest.approx(-50.0)


def test_the_same_seed_and_actions_give_the_same_episode():
    episodes = []
    for _ in range(2):
        env = gym.make("keel/CatchPoint-v0")
        env.reset(seed=7)
        episodes.append(_random_episode(env, np.random.default_rng(3))[:2])
    (r1, o1), (r2, o2) = episodes
    assert r1 == r2 and all(np.array_equal(a, b) for a, b in zip(o1, o2))
    other = gym.make("keel/CatchPoint-v0")
    other.reset(seed=8)
    assert _random_episode(other, np.random.default_rng(3))[0] != r1   # the seed draws the positions


@pytest.mark.parametrize("seed", range(20))
def test_rewards_are_bounded_and_episodes_end(seed):
    """d <= 2 sqrt 2 at the start, and a step moves at most 0.08: 25 steps keep d² below 24."""
    env = gym.make("keel/CatchPoint-v0")
    env.reset(seed=seed)
    rewards, obs_seen, term, trunc, info = _random_episode(env, np.random.default_rng(seed))
    assert (term or trunc) and len(rewards) <= 25
    assert all(-24.0 < r <= 0.0 for r in rewards[:-1]) and -24.0 < rewards[-1] <= 20.0
    assert (rewards[-1] > 19.9) == info["success"]
    assert all(env.observation_space.contains(o) for o in obs_seen)


def test_a_scripted_policy_catches_the_point():
    """Moving straight at the target and catching on arrival succeeds on all of seeds 0-19 within 25 actions."""
    caught = 0
    for seed in range(20):
        env = gym.make("keel/CatchPoint-v0")
        obs, _ = env.reset(seed=seed)
        for _ in range(25):
            obs, r, term, trunc, info = env.step(scripted(obs))
            if term or trunc:
                break
        caught += info["success"]
    assert caught >= 16


def test_a_frame_is_drawn():
    env = gym.make("keel/CatchPoint-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (200, 200, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 4   # a few colours drawn
    with pytest.raises(ValueError, match="render_mode must be None or 'rgb_array'"):
        C.CatchPointEnv(render_mode="human")
    with pytest.raises(ValueError, match=r"index in 0\.\.1, 1 parameter"):
        env.step((2, np.zeros(1, np.float32)))


def test_a_restored_state_continues_bit_for_bit():
    env = gym.make("keel/CatchPoint-v0")
    obs, _ = env.reset(seed=4)
    for _ in range(3):
        obs, *_ = env.step(scripted(obs))
    env.step(CATCH)   # a miss, so the state holds a count
    state = env_state(env)
    assert state["unsaved"] == []
    copy = gym.make("keel/CatchPoint-v0")
    copy.reset(seed=99)
    set_env_state(copy, state)
    for _ in range(25):
        a = scripted(obs)
        obs, r1, t1, tr1, i1 = env.step(a)
        obs2, r2, t2, tr2, i2 = copy.step(a)
        assert np.array_equal(obs, obs2) and r1 == r2 and (t1, tr1) == (t2, tr2) and i1 == i2
        if t1 or tr1:
            break
    assert i1["misses"] >= 1
