"""EDAC on datasets recorded on the probe environments (tests/algos/probes.py), through the real
offline loop: learned Q-values (random-action data) and actions (noisy best-action data) against the
known answers. Its backup is soft (-α log π in the target, with α learned): the bootstrapped probes are checked
against their soft answers, computed from the agent's own α and policy entropy.
Below, its pure functions against hand-computed references and its resume equality.
"""
import pytest
import torch

from keelrl.algos.edac import critic_action_gradients, edac_diversity_loss
from keelrl.nn.ensemble import EnsembleCritic

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, normalize_obs=False, actor_lr=3e-3, critic_lr=3e-3, alpha_lr=3e-3, tau=0.05, num_critics=2)
"""Small networks, fast learning rates, no state normalization (values and actions in the probes' units)."""
STEPS = 500


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, probe_datasets, tmp_path):
    P.check_values_soft_backup(P.run_offline("edac", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, probe_datasets, tmp_path):
    P.check_actions(P.run_offline("edac", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


def test_bootstraps_from_the_target_critics(probe_datasets, tmp_path):
    """A frozen target (τ ≈ 0): Q(0, a) learns γ · E_{a'~π(·|1)}[min_i Q̄_i(1, a') - α log π(a'|1)], not γ · 1."""
    agent = P.run_offline("edac", probe_datasets["ProbeTwoStep"], {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    P.check_bootstrap(agent, P.soft_target_value(agent))


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


def test_edac_diversity_identical_gradients_give_n():
    g = T([[3.0, 4.0], [-1.0, 2.0]])                  # [B=2, A=2]
    grads = g.expand(4, 2, 2).clone()                 # N = 4 identical members: every cos = 1
    loss, info = edac_diversity_loss(grads)
    assert loss.item() == pytest.approx(4.0)          # N (N - 1) / (N - 1)
    assert info["diversity"].item() == pytest.approx(4.0)


def test_edac_diversity_orthogonal_and_opposite_gradients():
    orth = T([[[1.0, 0.0]], [[0.0, 3.0]]])            # [N=2, B=1, A=2]
    assert edac_diversity_loss(orth)[0].item() == pytest.approx(0.0, abs=1e-7)
    opposite = T([[[1.0, 2.0]], [[-2.0, -4.0]]])
    assert edac_diversity_loss(opposite)[0].item() == pytest.approx(-2.0)   # 2 ordered pairs · -1 / 1


def test_edac_diversity_by_hand():
    # B = 2. Sample 1: g1 = (1, 0), g2 = (3, 4), g3 = (0, 2): cos12 = .6, cos13 = 0, cos23 = .8
    #   ordered pairs: 2 (.6 + 0 + .8) = 2.8, / (N - 1 = 2) = 1.4.  Sample 2: all identical: 3.
    grads = T([[[1.0, 0.0], [1.0, 1.0]],
               [[3.0, 4.0], [2.0, 2.0]],
               [[0.0, 2.0], [5.0, 5.0]]], requires_grad=True)
    loss, _ = edac_diversity_loss(grads)
    assert loss.item() == pytest.approx((1.4 + 3.0) / 2)
    loss.backward()
    assert grads.grad is not None and torch.isfinite(grads.grad).all()


def test_critic_action_gradients_equal_a_loop_over_members():
    torch.manual_seed(0)
    critic = EnsembleCritic(3, obs_dim=3, act_dim=2, hidden=(8, 8))
    obs, action = torch.randn(5, 3), torch.rand(5, 2) * 2 - 1
    grads = critic_action_gradients(critic, obs, action)
    assert grads.shape == (3, 5, 2)
    for i in range(3):
        a = action.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(critic.member(i, obs, a).sum(), a)
        torch.testing.assert_close(grads[i], g)
    # the graph is kept: the diversity term trains the critics' parameters
    edac_diversity_loss(grads)[0].backward()
    assert critic.net.layers[0].weight.grad is not None and critic.net.layers[0].weight.grad.abs().sum() > 0
    assert action.grad is None



# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tiny_dataset, tmp_path):
    from keelrl.algos import EDACConfig
    from tests.algos.resume import assert_offline_resume_equal
    dataset_id, _ = tiny_dataset(steps=200)
    assert_offline_resume_equal("edac", EDACConfig(hidden_sizes=(8, 8), batch_size=16, num_critics=3), tmp_path, dataset_id)
