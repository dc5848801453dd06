"""Environment state as arrays: saved mid-episode, written into a freshly made environment, the same
actions give the same observations, rewards and episode ends, bit for bit, across episode resets."""
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import ClipAction, FrameStackObservation, NormalizeObservation, NormalizeReward

import keelrl  # noqa: F401  (registers the probes)
from keelrl.envs.make import make_vector_env
from keelrl.envs.state import env_state, set_env_state, set_vector_state, vector_state
from keelrl.errors import KeelError
from keelrl.state_file import decode, encode


def _roll(env, actions):
    out = []
    for a in actions:
        obs, r, term, trunc, _ = env.step(a)
        out.append((np.asarray(obs).copy(), float(r), term, trunc))
        if term or trunc:
            out.append((np.asarray(env.reset()[0]).copy(),))   # the environment's own RNG draws the next start
    return out


def _continues_exactly(make, steps_before=120, steps_after=250):
    env = make()
    env.reset(seed=1)
    env.action_space.seed(2)
    actions = [env.action_space.sample() for _ in range(steps_before + steps_after)]
    _roll(env, actions[:steps_before])
    state = decode(*encode(env_state(env)))   # through the file format, as a checkpoint stores it
    expected = _roll(env, actions[steps_before:])
    fresh = make()
    set_env_state(fresh, state)
    got = _roll(fresh, actions[steps_before:])
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        assert len(e) == len(g) and all(np.array_equal(x, y) for x, y in zip(e, g))
    return state


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "CartPole-v1", "Acrobot-v1", "InvertedPendulum-v5", "Hopper-v5",
                                    "Ant-v5", "keel/ProbeObsReward-v0", "keel/ProbeTruncation-v0"])
def test_saved_state_continues_bit_for_bit(env_id):
    state = _continues_exactly(lambda: gym.make(env_id))
    assert state["unsaved"] == []


def test_wrappers_with_helper_objects_continue_bit_for_bit():
    """Running statistics (an object one level down), a frame deque and the step counter are saved too."""
    state = _continues_exactly(lambda: ClipAction(NormalizeReward(FrameStackObservation(
        NormalizeObservation(gym.make("Hopper-v5")), 3))))
    assert [layer["class"] for layer in state["layers"]][:4] == ["ClipAction", "NormalizeReward",
                                                                "FrameStackObservation", "NormalizeObservation"]


def test_a_different_environment_is_refused():
    env = gym.make("Pendulum-v1")
    env.reset(seed=0)
    with pytest.raises(KeelError, match="wrapped as .*Pendulum.*, this one as .*CartPole"):
        set_env_state(gym.make("CartPole-v1"), env_state(env))


class Counter(gym.Env):
    """An environment with its own state_dict / load_state_dict (used instead of its attributes)."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.n, self.loaded = 0, False

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.n = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.n += 1
        return np.array([self.n], np.float32), 1.0, False, self.n >= 10, {}

    def state_dict(self):
        return {"n": self.n}

    def load_state_dict(self, state):
        self.n, self.loaded = state["n"], True


class Opaque:
    """Stands for another library's object (a physics world): no attributes keelrl can read."""

    __slots__ = ("x",)


class HoldsAnObject(Counter):
    state_dict = load_state_dict = None

    def __init__(self):
        super().__init__()
        self.world = Opaque()


def test_an_environment_of_its_own_protocol_is_used():
    env = Counter()
    env.reset(seed=0)
    env.step(0)
    env.step(0)
    fresh = Counter()
    set_env_state(fresh, env_state(env))
    assert fresh.loaded and fresh.n == 2


def test_state_that_cannot_be_saved_warns_and_restarts_that_copy():
    gym.register("test/HoldsAnObject-v0", entry_point=HoldsAnObject, max_episode_steps=10)
    try:
        venv = make_vector_env("test/HoldsAnObject-v0", 2)
        venv.reset(seed=0)
        venv.step(np.array([0, 1]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            states = vector_state(venv)
        assert any("HoldsAnObject.world" in str(w.message) and "new episode" in str(w.message) for w in caught)
        fresh = make_vector_env("test/HoldsAnObject-v0", 2)
        restarted = set_vector_state(fresh, states, restart_seed=7)
        assert sorted(restarted) == [0, 1] and all(np.array_equal(o, np.zeros(1)) for o in restarted.values())
    finally:
        del gym.registry["test/HoldsAnObject-v0"]
