"""dm_control suite tasks through make_env("dmc:DOMAIN-TASK"): pixels within their space, action repeat
in physics time, dm_control's time limit as a truncation, seeding, one-line errors, exact resume."""
import numpy as np
import pytest

from keelrl.envs.dmc import PAPER_ACTION_REPEAT, DMCEnv, all_tasks, default_camera
from keelrl.envs.make import check_env_id, make_env
from keelrl.envs.pixels import rendering_problem
from keelrl.envs.state import env_state, set_env_state
from keelrl.errors import KeelError
from keelrl.state_file import decode, encode

NO_GL = rendering_problem()
# Importing dm_control loads its OpenGL backend, so without one not even its state observations work.
pytestmark = pytest.mark.skipif(NO_GL is not None, reason=f"no offscreen rendering: {NO_GL}")


def test_cheetah_run_pixels():
    env = make_env("dmc:cheetah-run")
    assert env.action_space.shape == (6,) and (env.action_space.low == -1).all() and (env.action_space.high == 1).all()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    env.action_space.seed(0)
    for _ in range(3):
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and np.isfinite(r) and not term and not trunc
    env.close()


def test_action_repeat_advances_physics_by_repeat_control_steps():
    env = make_env("dmc:cheetah-run", kwargs={"action_repeat": 4})
    env.reset(seed=0)
    dmc = env.unwrapped
    t0 = dmc.physics.data.time
    obs, *_ = env.step(np.zeros(6, np.float32))
    assert obs.shape == (3, 64, 64)
    assert dmc.physics.data.time - t0 == pytest.approx(4 * dmc.control_timestep())
    env.close()


def test_time_limit_is_a_truncation_after_1000_environment_steps():
    env = make_env("dmc:cheetah-run", kwargs={"pixels": None, "action_repeat": 4})   # no frames: fast
    obs, _ = env.reset(seed=0)
    assert obs.shape == (17,) and obs.dtype == np.float64
    steps, done = 0, False
    while not done:
        _, r, term, trunc, _ = env.step(np.zeros(6, np.float32))
        steps += 1
        assert not term
        done = trunc
    assert steps == 1000 // 4


def test_same_seed_same_first_frame():
    a, b = DMCEnv("cheetah", "run"), make_env("dmc:cheetah-run")   # rendered in the env, or by PixelObservation
    assert np.array_equal(a.reset(seed=3)[0], b.reset(seed=3)[0])
    s, t = make_env("dmc:cheetah-run", kwargs={"pixels": None}), make_env("dmc:cheetah-run", kwargs={"pixels": None})
    assert np.array_equal(s.reset(seed=3)[0], t.reset(seed=3)[0])
    assert not np.array_equal(s.reset(seed=3)[0], t.reset(seed=4)[0])
    a.close(), b.close()


@pytest.mark.parametrize("env_id, close", [("dmc:cheetah-runn", "dmc:cheetah-run"),
                                           ("dmc:cheeta-run", "dmc:cheetah-run"), ("dmc:walker", None)])
def test_unknown_task_is_a_one_line_error(env_id, close):
    with pytest.raises(KeelError) as e:
        check_env_id(env_id)
    msg = str(e.value)
    assert "\n" not in msg and "ball_in_cup-catch" in msg   # every task is listed
    if close:
        assert f"Did you mean {close}" in msg


def test_paper_action_repeats_name_suite_tasks():
    assert set(PAPER_ACTION_REPEAT) <= set(all_tasks())
    assert default_camera("quadruped") == 2 and default_camera("cheetah") == 0


def test_resume_continues_exactly():
    def make():
        return make_env("dmc:cheetah-run", kwargs={"action_repeat": 2, "frame_stack": 2})

    env = make()
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (8, 6)).astype(np.float32)
    for a in actions[:4]:
        env.step(a)
    state = decode(*encode(env_state(env)))   # through the checkpoint file format
    assert state["unsaved"] == []
    expected = [env.step(a)[:2] for a in actions[4:]]
    fresh = make()
    set_env_state(fresh, state)
    got = [fresh.step(a)[:2] for a in actions[4:]]
    for (o1, r1), (o2, r2) in zip(expected, got):
        assert np.array_equal(o1, o2) and r1 == r2


def test_dmc_ids_take_the_papers_action_repeat_unless_told():
    from keelrl.envs.pixels import action_repeat_of
    for kwargs, repeat in (({}, 4), ({"action_repeat": 1}, 1), ({"action_repeat": 2}, 2)):
        env = make_env("dmc:cheetah-run", kwargs=kwargs)
        assert action_repeat_of(env) == repeat, kwargs
        env.close()
