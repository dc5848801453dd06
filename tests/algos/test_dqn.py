"""DQN on the probe environments (tests/algos/probes.py): every probe in its discrete-action version,
through the real loop, its learned Q-values and greedy actions against the known answers.
Its losses by hand: test_online_losses.py; its resume equality: tests/train/test_resume_suite.py.
"""
import pytest
import torch

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), lr=3e-3, batch_size=64, learning_starts=50, updates_per_step=1.0, update_every=1,
           target_update_period=10, exploration_steps=200, eps_end=0.05, buffer_size=5000)
"""Small network, updates after every step, a hard target copy every 10 updates."""
STEPS = 400


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, tmp_path):
    P.check_values(P.run_online("dqn", probe, CFG, STEPS, tmp_path, discrete=True), probe, discrete=True)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    agent = P.run_online("dqn", probe, CFG, STEPS, tmp_path, discrete=True)
    P.check_actions(agent, probe, discrete=True)
    P.check_values(agent, probe, discrete=True)   # ε-greedy explores both actions: both values are learned


def test_bootstraps_from_the_target_network(tmp_path):
    """A target network never copied: Q(0, a) learns γ · max_a' Q̄(1, a') of the initial target, not γ · 1."""
    agent = P.run_online("dqn", "ProbeTwoStep", {**CFG, "target_update_period": 10 ** 9}, STEPS, tmp_path, discrete=True)
    with torch.no_grad():
        target = float(agent.q_target(torch.ones(1, 1)).max(-1).values[0])
    P.check_bootstrap(agent, target, discrete=True)
