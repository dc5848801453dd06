"""IQL on datasets recorded on the probe environments (tests/algos/probes.py), through the real
offline loop: learned Q-values (random-action data) and actions (noisy best-action data) against the
known answers.
Below, its pure functions against hand-computed references and its resume equality.
"""
import math

import pytest
import torch

from keelrl.algos.iql import awr_weights, iql_actor_loss, iql_critic_loss, iql_value_loss

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, normalize_obs=False, actor_lr=3e-3, critic_lr=3e-3, value_lr=3e-3, tau=0.05, normalize_reward=False,
           lr_decay_steps=0)
"""Small networks, fast learning rates, no state normalization (values and actions in the probes' units)."""
STEPS = 500


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, probe_datasets, tmp_path):
    P.check_values(P.run_offline("iql", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, probe_datasets, tmp_path):
    P.check_actions(P.run_offline("iql", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


def test_bootstraps_through_the_target_critics(probe_datasets, tmp_path):
    """A frozen target (τ ≈ 0): V(1) learns the τ-expectile of Q̄(1, a) over the data's actions, and
    Q(0, a) = γ V(1): not γ · 1."""
    agent = P.run_offline("iql", probe_datasets["ProbeTwoStep"], {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    with torch.no_grad():
        q = agent.critic_target(torch.ones(2001, 1), torch.linspace(-1, 1, 2001).view(-1, 1)).min(0).values
        lo, hi = float(q.min()), float(q.max())
        for _ in range(60):   # the expectile: Σ |τ - 1(q < v)| (q - v) = 0, by bisection
            v = (lo + hi) / 2
            w = torch.where(q < v, 1 - agent.cfg.expectile, agent.cfg.expectile)
            lo, hi = (v, hi) if float((w * (q - v)).sum()) > 0 else (lo, v)
    P.check_bootstrap(agent, v)


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


def test_iql_value_loss_by_hand():
    q = T([1.0, 2.0, 3.0])
    v = T([2.0, 2.0, 1.0], requires_grad=True)
    # u = Q̄ - V = (-1, 0, 2), τ = 0.8: mean(0.2·1, 0, 0.8·4) = 3.4 / 3
    loss, info = iql_value_loss(q, v, 0.8)
    assert loss.item() == pytest.approx(3.4 / 3)
    assert info["v_mean"].item() == pytest.approx(5 / 3)
    loss.backward()
    # dL/dV = -2 w u / B = (0.4 / 3, 0, -3.2 / 3)
    torch.testing.assert_close(v.grad, T([0.4 / 3, 0.0, -3.2 / 3]))
    with pytest.raises(AssertionError, match="shapes"):
        iql_value_loss(q, v.detach().view(3, 1), 0.8)


def test_iql_critic_loss_by_hand():
    q = T([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss, info = iql_critic_loss(q, T([1.0, 1.0, 1.0]))
    # mean over both critics and the batch: (0 + 1 + 4 + 1 + 1 + 1) / 6
    assert loss.item() == pytest.approx(8 / 6)
    assert info["q_mean"].item() == pytest.approx(1.0)
    loss.backward()
    torch.testing.assert_close(q.grad, 2 * (q.detach() - 1.0) / 6)
    with pytest.raises(AssertionError, match="shapes"):
        iql_critic_loss(q, T([1.0, 1.0]))


def test_awr_weights_by_hand_clip_at_max_and_carry_no_gradient():
    adv = T([0.0, 1.0, 10.0, -1.0], requires_grad=True)
    w = awr_weights(adv, beta=2.0, max_weight=100.0)
    torch.testing.assert_close(w, T([1.0, math.exp(2.0), 100.0, math.exp(-2.0)]))   # exp(20) clipped to 100
    assert not w.requires_grad
    torch.testing.assert_close(awr_weights(adv, 0.5, 1.5), T([1.0, 1.5, 1.5, math.exp(-0.5)]))


def test_iql_actor_loss_by_hand():
    ll = T([-1.0, -2.0], requires_grad=True)
    loss, info = iql_actor_loss(ll, T([2.0, 0.5]))
    assert loss.item() == pytest.approx(1.5)              # -(2·-1 + 0.5·-2) / 2
    assert info["weight_mean"].item() == pytest.approx(1.25)
    loss.backward()
    torch.testing.assert_close(ll.grad, T([-1.0, -0.25]))  # -w / B
    with pytest.raises(AssertionError, match="shapes"):
        iql_actor_loss(ll, T([1.0, 1.0, 1.0]))



# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tiny_dataset, tmp_path):
    from keelrl.algos import IQLConfig
    from tests.algos.resume import assert_offline_resume_equal
    dataset_id, _ = tiny_dataset(steps=200)
    assert_offline_resume_equal("iql", IQLConfig(hidden_sizes=(8, 8), batch_size=16, lr_decay_steps=40), tmp_path, dataset_id)
