"""SAC on the probe environments (tests/algos/probes.py): every probe of a continuous action space,
through the real loop, its learned Q-values and actions within the stated tolerance of the known answers.
Its losses by hand: test_sac_losses.py; its resume equality: tests/train/test_resume.py.
"""
import pytest
import torch

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, learning_starts=50, buffer_size=5000, actor_lr=3e-3, critic_lr=3e-3, alpha_lr=3e-3,
           backup_entropy=False, tau=0.05)
"""Small networks and fast learning rates; τ = 0.05 so that values propagate in a few hundred updates. Backup_entropy=False: the probes' answers are plain (not soft) values."""
STEPS = 400


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, tmp_path):
    P.check_values(P.run_online("sac", probe, CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    P.check_actions(P.run_online("sac", probe, CFG, STEPS, tmp_path), probe)


def test_bootstraps_from_the_target_critic(tmp_path):
    """A frozen target (τ ≈ 0): Q(0, a) learns γ · E_{a'~π(·|1)}[min_i Q̄_i(1, a')], not γ · 1."""
    agent = P.run_online("sac", "ProbeTwoStep", {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    with torch.no_grad():
        obs = torch.ones(256, 1)
        a, _, _ = agent.actor(obs).rsample((1,))
        target = float(agent.critic_target(obs, a[0]).min(0).values.mean())
    P.check_bootstrap(agent, target)
