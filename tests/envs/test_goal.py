"""keel/Goal-v0 and keel/HardGoal-v0: their spaces (Hard Goal's intervals with the reference's typo
fixed), the starting position, determinism under a seed, rewards in [-0.6, 1], episodes that end, the
reference's (x, x) kick-to target, the 100th action, a scripted policy that scores, a frame, and a
saved and restored state that continues bit for bit."""
import gymnasium as gym
import numpy as np
import pytest

import keelrl  # noqa: F401  (registers the hybrid environments)
from keelrl.envs.hybrid import goal as G
from keelrl.envs.state import env_state, set_env_state

IDS = ("keel/Goal-v0", "keel/HardGoal-v0")


def _random_action(env, rng):
    u = env.unwrapped
    k = int(rng.integers(len(u.param_slices)))
    return k, rng.uniform(u.param_low, u.param_high).astype(np.float32)


def _random_episode(env, rng, limit=150):
    rewards, obs_seen, info = [], [], {}
    for _ in range(limit):
        obs, r, term, trunc, info = env.step(_random_action(env, rng))
        rewards.append(r)
        obs_seen.append(obs)
        if term or trunc:
            return rewards, obs_seen, True, info
    return rewards, obs_seen, False, info


def test_goal_spaces_are_a_kick_and_two_shots():
    env = gym.make("keel/Goal-v0")
    discrete, params = env.action_space.spaces
    assert discrete.n == 3 and params.shape == (4,)
    np.testing.assert_allclose(params.low, [0, -15, -7.01, -7.01], rtol=1e-6)
    np.testing.assert_allclose(params.high, [40, 15, 7.01, 7.01], rtol=1e-6)
    assert G.PARAM_SLICES == ((0, 2), (2, 3), (3, 4))
    spaces = keelrl.Spaces.of(env)
    assert spaces.hybrid and spaces.num_actions == 3 and spaces.param_dim == 4 and spaces.param_slices == G.PARAM_SLICES
    obs, _ = env.reset(seed=0)
    assert obs.shape == (17,) and obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert env.spec.max_episode_steps is None   # the environment ends itself at its 100th action


def test_hard_goal_splits_each_shot_into_five_intervals_that_tile_the_goal():
    env = gym.make("keel/HardGoal-v0")
    discrete, params = env.action_space.spaces
    assert discrete.n == 11 and params.shape == (12,)
    assert G.HARD_PARAM_SLICES == ((0, 2),) + tuple((i, i + 1) for i in range(2, 12))
    assert keelrl.Spaces.of(env).param_slices == G.HARD_PARAM_SLICES
    for first in (2, 7):   # left shots, then right shots
        low, high = G.HARD_PARAM_LOW[first:first + 5], G.HARD_PARAM_HIGH[first:first + 5]
        assert low[0] == -7.01 and high[-1] == 7.01 and np.array_equal(low[1:], high[:-1])
        np.testing.assert_allclose(high - low, 2.804)
        # the middle one is [-0.2, 0.2] * 7.01, not the reference's typo [0.2, 0.2]
        assert low[2] == -high[2] == pytest.approx(-1.402)


def test_the_episode_starts_as_the_reference_sets_it_up():
    env = gym.make("keel/Goal-v0")
    env.reset(seed=3)
    u = env.unwrapped
    striker, keeper, ball = u.pos
    assert striker[0] == 0.0 and -15 <= striker[1] <= 15
    assert np.linalg.norm(ball - striker) == pytest.approx(G.KICKABLE, abs=1e-9) and u._can_kick()
    towards_goal = np.array([20.0, 0.0]) - striker
    np.testing.assert_allclose((ball - striker) / 1.6, towards_goal / np.linalg.norm(towards_goal), atol=1e-9)
    assert keeper[0] == 14.5   # on the line from the ball to the goal's centre, at the goal area's edge
    along = keeper - striker
    assert towards_goal[0] * along[1] - towards_goal[1] * along[0] == pytest.approx(0.0, abs=1e-9)
    assert not u.vel.any() and u.actions_taken == 0


@pytest.mark.parametrize("env_id", IDS)
def test_the_same_seed_and_actions_give_the_same_episode(env_id):
    episodes = []
    for _ in range(2):
        env = gym.make(env_id)
        env.reset(seed=7)
        episodes.append(_random_episode(env, np.random.default_rng(3))[:2])
    (r1, o1), (r2, o2) = episodes
    assert r1 == r2 and all(np.array_equal(a, b) for a, b in zip(o1, o2))


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("seed", range(10))
def test_rewards_are_scaled_and_episodes_end(env_id, seed):
    env = gym.make(env_id)
    env.reset(seed=seed)
    rewards, obs_seen, ended, info = _random_episode(env, np.random.default_rng(seed))
    assert ended and all(-0.6 <= r <= 1.0 for r in rewards)
    assert rewards[-1] == 1.0 if info["success"] else rewards[-1] < 0.0
    assert all(env.observation_space.contains(o) for o in obs_seen) and info["ticks"] >= 1


def test_kick_to_aims_at_x_x_as_the_reference_and_at_x_y_when_asked():
    def kicked_ball(y, **kwargs):
        env = gym.make("keel/Goal-v0", **kwargs)
        env.reset(seed=1)
        env.step((0, np.array([6.0, y, 0.0, 0.0], np.float32)))
        return env.unwrapped.pos[G.BALL].copy()
    assert np.array_equal(kicked_ball(-10.0), kicked_ball(10.0))   # y has no effect
    assert not np.array_equal(kicked_ball(-10.0, kick_to_y=True), kicked_ball(10.0, kick_to_y=True))
    with pytest.raises(ValueError, match="kick_to_y must be True or False"):
        G.GoalEnv(kick_to_y="yes")


def test_the_hundredth_action_ends_the_episode_unplayed():
    env = gym.make("keel/Goal-v0")
    env.reset(seed=0)
    u = env.unwrapped
    u.actions_taken = G.MAX_ACTIONS - 1
    before = u.pos.copy()
    _, r, term, trunc, info = env.step((1, np.array([0.0, 0.0, 3.0, 0.0], np.float32)))
    assert term and not trunc and info == {"ticks": 0, "success": False}
    assert np.array_equal(u.pos, before) and r == pytest.approx(-(20.0 - before[G.BALL, 0]) / 50)


def test_bad_actions_say_what_is_allowed():
    env = G.HardGoalEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"index in 0\.\.10, 12 parameters"):
        env.step((11, np.zeros(12, np.float32)))
    with pytest.raises(ValueError, match=r"index in 0\.\.10, 12 parameters"):
        env.step((0, np.zeros(4, np.float32)))


def _scripted(env, shot_actions):
    """Kick the ball back towards (0, 0), then shoot at y = 5 on the side of the goal away from the
    goalkeeper (shot_actions: the shots that can aim at -5 and at 5)."""
    u = env.unwrapped
    params = np.zeros(u.param_low.size, np.float32)
    if u.actions_taken == 0:
        return 0, params
    side = -1 if u.pos[G.KEEPER, 1] > u.pos[G.BALL, 1] else 1
    k = shot_actions[0] if side < 0 else shot_actions[1]
    params[u.param_slices[k][0]] = 5.0 * side
    return k, params


@pytest.mark.parametrize("env_id, shots", [("keel/Goal-v0", (1, 2)), ("keel/HardGoal-v0", (1, 5))])
def test_a_scripted_policy_scores_sometimes(env_id, shots):
    """Goal is scorable with these dynamics: this two-action script scores on 6 of seeds 0-19."""
    goals = 0
    for seed in range(20):
        env = gym.make(env_id)
        env.reset(seed=seed)
        for _ in range(5):
            _, r, term, _, info = env.step(_scripted(env, shots))
            if term:
                break
        goals += info["success"]
    assert goals >= 4


def test_a_frame_is_drawn():
    env = gym.make("keel/Goal-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (300, 225, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 5   # a few colours drawn
    with pytest.raises(ValueError, match="render_mode must be None or 'rgb_array'"):
        G.GoalEnv(render_mode="human")


@pytest.mark.parametrize("env_id, shots", [("keel/Goal-v0", (1, 2)), ("keel/HardGoal-v0", (1, 5))])
def test_a_restored_state_continues_bit_for_bit(env_id, shots):
    """After the script's first kick, keelrl's array state (positions, velocities, the random generator)
    is written into a fresh copy; both then play the shot tick for tick to the same goal."""
    env = gym.make(env_id)
    env.reset(seed=0)
    _, _, term, _, _ = env.step(_scripted(env, shots))
    state = env_state(env)
    assert not term and state["unsaved"] == []
    copy = gym.make(env_id)
    copy.reset(seed=99)
    set_env_state(copy, state)
    action = _scripted(env, shots)
    o1, r1, t1, _, i1 = env.step(action)
    o2, r2, t2, _, i2 = copy.step(action)
    assert np.array_equal(o1, o2) and r1 == r2 == 1.0 and t1 and t2 and i1 == i2 and i1["ticks"] > 10
    assert np.array_equal(env.unwrapped.pos, copy.unwrapped.pos)
