"""TD3 on the probe environments (tests/algos/probes.py): every probe of a continuous action space,
through the real loop, its learned Q-values and actions within the stated tolerance of the known answers.
Its losses by hand: test_online_losses.py; its resume equality: tests/train/test_resume_suite.py.
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
    P.check_values(P.run_online("td3", probe, CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    P.check_actions(P.run_online("td3", probe, CFG, ACTION_STEPS, tmp_path), probe)


def test_bootstraps_from_the_target_networks(tmp_path):
    """Frozen targets (τ ≈ 0): Q(0, a) learns γ · min_i Q̄_i(1, μ'(1) + clipped noise), not γ · 1."""
    agent = P.run_online("td3", "ProbeTwoStep", {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    with torch.no_grad():
        obs = torch.ones(256, 1)
        mu = agent.ac.actor_target(obs)
        a = (mu + (0.2 * torch.randn_like(mu)).clamp(-0.5, 0.5)).clamp(-1, 1)
        target = float(agent.ac.critic_target(obs, a).min(0).values.mean())
    P.check_bootstrap(agent, target)
