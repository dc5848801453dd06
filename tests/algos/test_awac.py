"""AWAC on datasets recorded on the probe environments (tests/algos/probes.py), through the real
offline loop: learned Q-values (random-action data) and actions (noisy best-action data) against the
known answers.
Below, its pure functions against hand-computed references and its resume equality.
"""
import pytest
import torch

from keelrl.algos.awac import awac_critic_loss

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, normalize_obs=False, actor_lr=3e-3, critic_lr=3e-3, tau=0.05)
"""Small networks, fast learning rates, no state normalization (values and actions in the probes' units)."""
STEPS = 500


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, probe_datasets, tmp_path):
    P.check_values(P.run_offline("awac", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, probe_datasets, tmp_path):
    P.check_actions(P.run_offline("awac", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


def test_bootstraps_from_the_target_critics(probe_datasets, tmp_path):
    """A frozen target (τ ≈ 0): Q(0, a) learns γ · E_{a'~π(·|1)}[min_i Q̄_i(1, a')], not γ · 1."""
    agent = P.run_offline("awac", probe_datasets["ProbeTwoStep"], {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    with torch.no_grad():
        obs = torch.ones(256, 1)
        target = float(agent.critic_target(obs, agent.actor(obs).sample().clamp(-1.0, 1.0)).min(0).values.mean())
    P.check_bootstrap(agent, target)


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


def test_awac_critic_loss_by_hand():
    q = T([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss, info = awac_critic_loss(q, T([2.0, 2.0]))
    assert loss.item() == pytest.approx(3.0) and info["q_mean"].item() == pytest.approx(2.5)
    loss.backward()
    torch.testing.assert_close(q.grad, T([[-1.0, 0.0], [1.0, 2.0]]))
    with pytest.raises(AssertionError, match="shapes"):
        awac_critic_loss(q, T([[2.0, 2.0]]))



# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tiny_dataset, tmp_path):
    from keelrl.algos import AWACConfig
    from tests.algos.resume import assert_offline_resume_equal
    dataset_id, _ = tiny_dataset(steps=200)
    assert_offline_resume_equal("awac", AWACConfig(hidden_sizes=(8, 8), batch_size=16), tmp_path, dataset_id)
