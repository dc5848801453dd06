"""DDPG on the probe environments (tests/algos/probes.py): every probe of a continuous action space,
through the real loop, its learned Q-values and actions within the stated tolerance of the known answers.
Its losses are TD3's (tests/algos/test_td3.py); below, its resume equality.
"""
import pytest
import torch

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, learning_starts=50, buffer_size=5000, actor_lr=1e-3, critic_lr=3e-3, tau=0.05)
"""Small networks and fast learning rates; τ = 0.05 so that values propagate in a few hundred updates."""
STEPS = 400
ACTION_STEPS = 700
"""The deterministic actor settles on the best action more slowly than the critic learns the values."""


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, tmp_path):
    P.check_values(P.run_online("ddpg", probe, CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    P.check_actions(P.run_online("ddpg", probe, CFG, ACTION_STEPS, tmp_path), probe)


def test_bootstraps_from_the_target_networks(tmp_path):
    """Frozen targets (τ ≈ 0): Q(0, a) learns γ · Q̄(1, μ'(1)), not γ · 1."""
    agent = P.run_online("ddpg", "ProbeTwoStep", {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    with torch.no_grad():
        obs = torch.ones(1, 1)
        target = float(agent.ac.critic_target(obs, agent.ac.actor_target(obs)).min(0).values[0])
    P.check_bootstrap(agent, target)


# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tmp_path):
    from keelrl.algos import DDPGConfig
    from tests.algos.resume import assert_online_resume_equal
    assert_online_resume_equal("ddpg", DDPGConfig(hidden_sizes=(16, 16), batch_size=32, learning_starts=100, buffer_size=5000), tmp_path, "InvertedPendulum-v5", 2, 400, 230)
