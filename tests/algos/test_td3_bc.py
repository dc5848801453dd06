"""TD3+BC on datasets recorded on the probe environments (tests/algos/probes.py), through the real
offline loop: learned Q-values (random-action data) and actions (noisy best-action data) against the
known answers.
Below, its pure functions against hand-computed references and its resume equality.
"""
import pytest
import torch

from keelrl.algos.td3_bc import TD3BCConfig, td3_bc_actor_loss

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, normalize_obs=False, actor_lr=3e-3, critic_lr=3e-3, tau=0.05)
"""Small networks, fast learning rates, no state normalization (values and actions in the probes' units)."""
STEPS = 500


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, probe_datasets, tmp_path):
    P.check_values(P.run_offline("td3_bc", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, probe_datasets, tmp_path):
    P.check_actions(P.run_offline("td3_bc", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


def test_bootstraps_from_the_target_networks(probe_datasets, tmp_path):
    """Frozen targets (τ ≈ 0): Q(0, a) learns γ · min_i Q̄_i(1, μ'(1) + clipped noise), not γ · 1."""
    agent = P.run_offline("td3_bc", probe_datasets["ProbeTwoStep"], {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    P.check_bootstrap(agent, P.smoothed_target_value(agent.ac))


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


def test_td3_bc_actor_loss_by_hand_with_no_gradient_through_lambda():
    q_pi = T([1.0, -3.0], requires_grad=True)
    pi = T([[0.5], [0.0]], requires_grad=True)
    a = T([[0.0], [1.0]])
    # λ = 2.5 / mean(|1|, |-3|) = 1.25; BC = mean(.25, 1) = .625; J = -1.25 · mean(1, -3) + .625 = 1.875
    loss, info = td3_bc_actor_loss(q_pi, pi, a, alpha=2.5)
    assert loss.item() == pytest.approx(1.875)
    assert info["lambda"].item() == pytest.approx(1.25) and info["loss_bc"].item() == pytest.approx(0.625)
    loss.backward()
    # λ is a constant: dJ/dQ = -λ / B for every entry (with λ's gradient, the first would be -0.9375)
    torch.testing.assert_close(q_pi.grad, T([-0.625, -0.625]))
    torch.testing.assert_close(pi.grad, T([[0.5], [-1.0]]))   # 2 (π - a) / (B · A)


def test_td3_bc_actor_loss_alpha_zero_is_behavior_cloning():
    q_pi = T([4.0, 2.0], requires_grad=True)
    pi, a = T([[0.0, 1.0], [1.0, 1.0]]), T([[1.0, 1.0], [1.0, -1.0]])
    loss, _ = td3_bc_actor_loss(q_pi, pi, a, alpha=0.0)
    assert loss.item() == pytest.approx(1.25)



# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tiny_dataset, tmp_path):
    from tests.algos.resume import assert_offline_resume_equal
    dataset_id, _ = tiny_dataset(steps=200)
    assert_offline_resume_equal("td3_bc", TD3BCConfig(hidden_sizes=(8, 8), batch_size=16), tmp_path, dataset_id)


def test_configs_stored_with_the_old_name_of_bc_alpha_still_load():
    """TD3+BC's α was `alpha` until keelrl 0.2 (SAC's and CQL's alpha is a temperature)."""
    from keelrl.algos.td3_bc import SPEC
    assert SPEC.config_from({"alpha": 1.0, "batch_size": 64}) == TD3BCConfig(bc_alpha=1.0, batch_size=64)
