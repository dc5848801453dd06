"""keel/Tree-v0: registration and gymnasium's checks, a walk straight up into the tree, a step that
grazes the tree between its end points, the demonstrator's success and its two routes, route_side
on hand-made trajectories, determinism under a seed, a frame, and a saved and restored state that
continues bit for bit."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import keelrl.envs  # noqa: F401  (registers keel/Tree-v0)
from keelrl.envs import tree as T
from keelrl.envs.state import env_state, set_env_state
from keelrl.train.evaluation import reports_success

UP = np.array([0.0, 1.0], np.float32)


def _demonstration(env, seed):
    """One episode of the environment's demonstrator: (positions [T+1, 2], last info, side)."""
    env.reset(seed=seed)
    u = env.unwrapped
    while True:
        _, _, term, trunc, info = env.step(u.expert_action())
        if term or trunc:
            return np.array(u.path), info, u.demonstrator_side


def test_the_registered_id_passes_gymnasiums_checks():
    env = gym.make("keel/Tree-v0")
    assert env.spec.max_episode_steps == 50 and reports_success(env)
    assert env.observation_space.shape == (2,) and env.observation_space.dtype == np.float32
    assert (env.action_space.low == -1).all() and (env.action_space.high == 1).all()
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert info == {} and np.all(np.abs(obs - T.START) <= T.START_JITTER)


def test_a_step_moves_by_a_tenth_of_the_clipped_action_within_the_arena():
    env = gym.make("keel/Tree-v0")
    env.reset(seed=0)
    u = env.unwrapped
    u.pos = np.array([1.0, -1.0])
    obs, r, term, trunc, info = env.step(np.array([3.0, -0.5], np.float32))   # x clipped to 1
    np.testing.assert_allclose(u.pos, [1.1, -1.05], atol=1e-12)
    np.testing.assert_allclose(obs, [1.1, -1.05], atol=1e-7)
    assert r == 0.0 and not term and not trunc and info == {"success": False, "collision": False}
    u.pos = np.array([1.45, -1.45])
    env.step(np.array([1.0, -1.0], np.float32))
    np.testing.assert_allclose(u.pos, [1.5, -1.5])   # the arena's corner


def test_walking_straight_up_hits_the_tree():
    env = gym.make("keel/Tree-v0")
    env.reset(seed=3)
    for _ in range(10):
        obs, r, term, trunc, info = env.step(UP)
        if term or trunc:
            break
    assert term and not trunc and info == {"success": False, "collision": True} and r == 0.0
    # stopped on the tree's edge, below it
    assert np.linalg.norm(env.unwrapped.pos) == pytest.approx(T.TREE_RADIUS) and obs[1] < 0


def test_reaching_the_goal_pays_one_and_ends():
    env = gym.make("keel/Tree-v0")
    env.reset(seed=0)
    env.unwrapped.pos = T.GOAL - np.array([0.0, 0.15])
    _, r, term, _, info = env.step(UP)   # ends 0.05 from the goal
    assert term and r == 1.0 and info == {"success": True, "collision": False}


def test_a_step_through_the_tree_collides_though_both_ends_are_outside():
    # the closest point of the segment, not its end points, decides
    below, above = np.array([0.0, -T.TREE_RADIUS - 0.01]), np.array([0.0, T.TREE_RADIUS + 0.01])
    assert T.segment_hits_circle(below, above, T.TREE_CENTER, T.TREE_RADIUS)
    assert not T.segment_hits_circle(below + [0.31, 0.0], above + [0.31, 0.0], T.TREE_CENTER, T.TREE_RADIUS)
    assert T.first_contact(below, above, T.TREE_CENTER, T.TREE_RADIUS) == pytest.approx(0.01 / 0.62)
    # in the environment: a sideways step of 0.1 whose ends are 0.303 from the centre grazes the tree at 0.299
    env = gym.make("keel/Tree-v0")
    env.reset(seed=0)
    u = env.unwrapped
    u.pos = np.array([-0.05, -0.299])
    assert np.linalg.norm(u.pos) > T.TREE_RADIUS and np.linalg.norm(u.pos + [0.1, 0.0]) > T.TREE_RADIUS
    _, r, term, _, info = env.step(np.array([1.0, 0.0], np.float32))
    assert term and info["collision"] and not info["success"] and r == 0.0
    assert np.linalg.norm(u.pos) == pytest.approx(T.TREE_RADIUS) and u.pos[0] < 0   # stopped where it met the edge
    # the same step 0.002 lower passes
    u.pos = np.array([-0.05, -0.301])
    _, _, term, _, info = env.step(np.array([1.0, 0.0], np.float32))
    assert not term and not info["collision"]


def test_the_demonstrator_reaches_the_goal_by_both_sides():
    env = gym.make("keel/Tree-v0")
    successes, sides, routes = 0, [], []
    for seed in range(100):
        path, info, side = _demonstration(env, seed)
        successes += info["success"]
        sides.append(side)
        routes.append(T.route_side(path))
    assert successes >= 98
    right = np.mean(np.array(sides) == T.RIGHT)
    assert 0.35 <= right <= 0.65 and set(sides) == {T.LEFT, T.RIGHT}
    assert routes == sides   # it passes the tree on the side it chose


def test_the_demonstrators_action_is_the_unit_direction_plus_clipped_noise():
    start = np.array([0.0, -1.0])
    for side in (T.LEFT, T.RIGHT):      # the approach is the same for both routes: straight up
        np.testing.assert_allclose(T.demonstration_action(start, side, noise=0.0), [0.0, 1.0], atol=1e-6)
    branch = np.array([0.0, T.BRANCH_Y])  # at the branch: towards the waypoint beside the tree
    right = T.demonstration_action(branch, T.RIGHT, noise=0.0)
    to_waypoint = np.array([T.WAYPOINT_X, 0.0]) - branch
    np.testing.assert_allclose(right, to_waypoint / np.linalg.norm(to_waypoint), atol=1e-6)
    np.testing.assert_allclose(T.demonstration_action(branch, T.LEFT, noise=0.0), right * [-1, 1], atol=1e-6)
    # within 0.1 of the waypoint, or above y = 0: towards the goal
    near = np.array([T.WAYPOINT_X - 0.05, -0.05])
    np.testing.assert_allclose(T.demonstration_action(near, T.RIGHT, noise=0.0),
                               (T.GOAL - near) / np.linalg.norm(T.GOAL - near), atol=1e-6)
    np.testing.assert_allclose(T.demonstration_action([-0.8, 0.01], T.RIGHT, noise=0.0),
                               np.array([0.8, 0.99]) / np.hypot(0.8, 0.99), atol=1e-6)
    noisy = np.stack([T.demonstration_action(branch, T.RIGHT, 0.1, np.random.default_rng(i)) for i in range(400)])
    assert noisy.dtype == np.float32 and np.abs(noisy.mean(0) - right).max() < 0.02
    assert 0.08 < noisy.std(0).min() and noisy.std(0).max() < 0.12
    assert np.abs(T.demonstration_action(start, T.RIGHT, 5.0, np.random.default_rng(0))).max() <= 1.0
    demonstrator = T.TreeDemonstrator(T.LEFT, noise=0.0)
    np.testing.assert_allclose(demonstrator(branch), right * [-1, 1], atol=1e-6)
    with pytest.raises(ValueError, match="side must be -1"):
        T.TreeDemonstrator(0)


def test_route_side_reads_the_sign_of_x_where_y_crosses_zero():
    left = np.array([[0.0, -1.0], [-0.4, -0.3], [-0.5, 0.1], [0.0, 1.0]])
    right = left * [-1, 1]
    assert T.route_side(left) == T.LEFT and T.route_side(right) == T.RIGHT
    assert T.route_side(np.array([[0.0, -1.0], [0.0, -0.3]])) == 0          # stopped below: no crossing
    assert T.route_side(np.array([[0.2, 0.5], [0.0, 1.0]])) == 0            # never below
    assert T.route_side(np.array([[-0.2, -0.1], [0.6, 0.1]])) == T.RIGHT    # interpolated: x = 0.2 at y = 0
    assert T.route_side(np.array([[-0.6, -0.1], [0.2, 0.1]])) == T.LEFT     # x = -0.2 at y = 0
    # the first upward crossing counts
    assert T.route_side(np.concatenate([left[:3], [[0.5, -0.2], [0.5, 0.2]]])) == T.LEFT
    with pytest.raises(ValueError, match=r"\[T, 2\]"):
        T.route_side(np.zeros(4))


def test_the_same_seed_gives_the_same_episode():
    runs = [_demonstration(gym.make("keel/Tree-v0"), 11) for _ in range(2)]
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][2] == runs[1][2]
    other = _demonstration(gym.make("keel/Tree-v0"), 12)
    assert not np.array_equal(other[0][0], runs[0][0][0])   # the seed draws the start


def test_a_frame_is_drawn():
    env = gym.make("keel/Tree-v0", render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(5):
        env.step(env.unwrapped.expert_action())
    frame = env.render()
    assert frame.shape == (200, 200, 3) and frame.dtype == np.uint8
    assert tuple(frame[100, 100]) == (40, 140, 50)   # the tree at the centre
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 5
    assert T.TreeEnv().render() is None
    with pytest.raises(ValueError, match="render_mode must be None or 'rgb_array'"):
        T.TreeEnv(render_mode="human")
    with pytest.raises(ValueError, match=r"velocities of shape \(2,\)"):
        env.step(np.zeros(3, np.float32))


def test_a_restored_state_continues_bit_for_bit():
    env = gym.make("keel/Tree-v0")
    env.reset(seed=5)
    for _ in range(6):
        env.step(env.unwrapped.expert_action())
    state = env_state(env)
    assert state["unsaved"] == []
    copy = gym.make("keel/Tree-v0")
    copy.reset(seed=99)
    set_env_state(copy, state)
    assert copy.unwrapped.demonstrator_side == env.unwrapped.demonstrator_side
    for _ in range(60):
        obs1, r1, t1, tr1, i1 = env.step(env.unwrapped.expert_action())      # the noise continues too
        obs2, r2, t2, tr2, i2 = copy.step(copy.unwrapped.expert_action())
        assert np.array_equal(obs1, obs2) and r1 == r2 and (t1, tr1) == (t2, tr2) and i1 == i2
        if t1 or tr1:
            break
    assert i1["success"] and np.array_equal(np.array(env.unwrapped.path), np.array(copy.unwrapped.path))
