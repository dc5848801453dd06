"""The probe environments do what their docstrings and `q_value` / `best_action` say: stepping them
with a given action pays the stated reward, episodes end as stated, and the truncation probe ends
only by its time limit."""
import gymnasium as gym
import numpy as np
import pytest

from keelrl.envs.probes import PROBES, TRUNCATION_STEPS

GAMMA = 0.5


def _episode(env_id, action, seed=0):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    trace = []
    while True:
        nxt, r, term, trunc, _ = env.step(action)
        trace.append((float(obs[0]), r, term, trunc))
        obs = nxt
        if term or trunc:
            return trace


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("name", sorted(PROBES))
def test_spaces_and_registration(name, discrete):
    env = gym.make(f"keel/{name}{'Discrete' if discrete else ''}-v0")
    assert env.observation_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    assert env.action_space == (gym.spaces.Discrete(2) if discrete else gym.spaces.Box(-1.0, 1.0, (1,), np.float32))


@pytest.mark.parametrize("discrete", [False, True])
def test_one_step_probes_pay_their_q_value(discrete):
    suffix = "Discrete" if discrete else ""
    for name in ("ProbeConstant", "ProbeObsReward", "ProbeActionReward", "ProbeObsAction"):
        env = gym.make(f"keel/{name}{suffix}-v0").unwrapped
        for seed in range(6):
            for a in ([0, 1] if discrete else [-1.0, -0.25, 0.5, 1.0]):
                (obs, r, term, trunc), = _episode(f"keel/{name}{suffix}-v0", a if discrete else np.array([a], np.float32), seed)
                assert term and not trunc
                assert r == pytest.approx(env.q_value(obs, a, GAMMA)), (name, obs, a)
        if hasattr(env, "best_action"):
            for obs in (-1.0, 1.0) if name == "ProbeObsAction" else (0.0,):
                best = env.best_action(obs)
                others = [0, 1] if discrete else list(np.linspace(-1, 1, 41))
                assert env.q_value(obs, best, GAMMA) >= max(env.q_value(obs, a, GAMMA) for a in others) - 1e-12


def test_two_step_discounts_the_second_reward():
    trace = _episode("keel/ProbeTwoStep-v0", np.zeros(1, np.float32))
    assert [(o, r, t) for o, r, t, _ in trace] == [(0.0, 0.0, False), (1.0, 1.0, True)]
    env = gym.make("keel/ProbeTwoStep-v0").unwrapped
    assert env.q_value(0.0, 0, GAMMA) == pytest.approx(0.0 + GAMMA * env.q_value(1.0, 0, GAMMA))


def test_truncation_probe_ends_only_by_its_time_limit():
    trace = _episode("keel/ProbeTruncation-v0", np.zeros(1, np.float32))
    assert len(trace) == TRUNCATION_STEPS and all(r == 1.0 for _, r, _, _ in trace)
    assert not any(term for _, _, term, _ in trace) and trace[-1][3]
    q = gym.make("keel/ProbeTruncation-v0").unwrapped.q_value(0.0, 0, GAMMA)
    assert q == pytest.approx(1.0 + GAMMA * q)      # the Bellman equation through the time limit
