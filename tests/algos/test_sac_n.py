"""SAC-N on datasets recorded on the probe environments (tests/algos/probes.py), through the real
offline loop: learned Q-values (random-action data) and actions (noisy best-action data) against the
known answers. Its backup is soft (-α log π in the target, with α learned): the bootstrapped probes are checked
against their soft answers, computed from the agent's own α and policy entropy.
Below, its pure functions against hand-computed references and its resume equality.
"""
import math

import pytest
import torch

from keelrl.algos.sac_n import ensemble_critic_loss

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, normalize_obs=False, actor_lr=3e-3, critic_lr=3e-3, alpha_lr=3e-3, tau=0.05, num_critics=2)
"""Small networks, fast learning rates, no state normalization (values and actions in the probes' units)."""
STEPS = 500


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, probe_datasets, tmp_path):
    P.check_values_soft_backup(P.run_offline("sac_n", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, probe_datasets, tmp_path):
    P.check_actions(P.run_offline("sac_n", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


def test_bootstraps_from_the_target_critics(probe_datasets, tmp_path):
    """A frozen target (τ ≈ 0): Q(0, a) learns γ · E_{a'~π(·|1)}[min_i Q̄_i(1, a') - α log π(a'|1)], not γ · 1."""
    agent = P.run_offline("sac_n", probe_datasets["ProbeTwoStep"], {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    P.check_bootstrap(agent, P.soft_target_value(agent))


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


def test_ensemble_critic_loss_by_hand():
    q = T([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss, info = ensemble_critic_loss(q, T([[2.0, 2.0]]))
    # Σ_j mean_b: critic 1 mean(1, 0) = .5, critic 2 mean(1, 4) = 2.5
    assert loss.item() == pytest.approx(3.0)
    assert info["q_mean"].item() == pytest.approx(2.5)
    assert info["q_std"].item() == pytest.approx(math.sqrt(2))     # std over the critics (1, 3) and (2, 4)
    loss.backward()
    torch.testing.assert_close(q.grad, T([[-1.0, 0.0], [1.0, 2.0]]))



# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tiny_dataset, tmp_path):
    from keelrl.algos import SACNConfig
    from tests.algos.resume import assert_offline_resume_equal
    dataset_id, _ = tiny_dataset(steps=200)
    assert_offline_resume_equal("sac_n", SACNConfig(hidden_sizes=(8, 8), batch_size=16, num_critics=3), tmp_path, dataset_id)
