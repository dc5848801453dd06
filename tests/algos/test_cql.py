"""CQL on datasets recorded on the probe environments (tests/algos/probes.py), through the real
offline loop: learned Q-values (random-action data) and actions (noisy best-action data) against the
known answers.
Below, its pure functions against hand-computed references and its resume equality.
"""
import math

import numpy as np
import pytest
import torch

from keelrl.algos.cql import cql_critic_loss, cql_gap, lagrange_loss

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, normalize_obs=False, actor_lr=3e-3, critic_lr=3e-3, alpha_lr=3e-3, tau=0.05, cql_alpha=1.0,
           cql_n_actions=3)
"""Small networks, fast learning rates, no state normalization (values and actions in the probes' units)."""
STEPS = 500


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, probe_datasets, tmp_path):
    P.check_values(P.run_offline("cql", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, probe_datasets, tmp_path):
    P.check_actions(P.run_offline("cql", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


def test_bootstraps_from_the_target_critics(probe_datasets, tmp_path):
    """A frozen target (τ ≈ 0): Q(0, a) learns γ · E_{a'~π(·|1)}[min_i Q̄_i(1, a')], not γ · 1."""
    agent = P.run_offline("cql", probe_datasets["ProbeTwoStep"], {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    with torch.no_grad():
        obs = torch.ones(256, 1)
        target = float(agent.critic_target(obs, agent.actor(obs).rsample((1,))[0][0]).min(0).values.mean())
    P.check_bootstrap(agent, target)


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


def _one(x):
    return T([[[x]]])                                         # [N=1, n=1, B=1]


def test_cql_gap_importance_sampling_by_hand():
    # A = 2: uniform density 0.5² inside [-1, 1]², so Q(s, a_rand) - log 0.25 = 1 + log 4
    # π(·|s') action: Q 0, log-density -1 -> 1;  π(·|s) action: Q 2, log-density .5 -> 1.5
    gap = cql_gap(_one(1.0), _one(2.0), T([[0.5]]), _one(0.0), T([[-1.0]]), T([[1.5]]), act_dim=2,
                  temperature=1.0, importance_sampling=True)
    expected = math.log(4 * math.e + math.e + math.exp(1.5)) - 1.5
    torch.testing.assert_close(gap, T([expected]))


def test_cql_gap_without_importance_sampling_by_hand():
    # a plain logsumexp over the sampled Q values and the dataset's Q; the log-densities are not used
    gap = cql_gap(_one(1.0), _one(2.0), T([[0.5]]), _one(0.0), T([[-1.0]]), T([[1.5]]), act_dim=2,
                  temperature=1.0, importance_sampling=False)
    expected = math.log(math.e + math.exp(1.5) + 1.0 + math.exp(2.0)) - 1.5
    torch.testing.assert_close(gap, T([expected]))


def test_cql_gap_temperature_by_hand():
    # T · log Σ exp(x / T) with T = 2 on (1, 1.5, 0, 2)
    gap = cql_gap(_one(1.0), _one(2.0), T([[0.5]]), _one(0.0), T([[-1.0]]), T([[1.5]]), act_dim=2,
                  temperature=2.0, importance_sampling=False)
    expected = 2 * math.log(sum(math.exp(x / 2) for x in (1.0, 1.5, 0.0, 2.0))) - 1.5
    torch.testing.assert_close(gap, T([expected]))


@pytest.mark.parametrize("importance_sampling", [True, False])
def test_cql_gap_numpy_reference_logsumexp_over_3n_per_critic(importance_sampling):
    rng = np.random.default_rng(0)
    N, n, B, A = 2, 3, 4, 3
    q_rand, q_pi, q_next = (rng.standard_normal((N, n, B)) for _ in range(3))
    lp_pi, lp_next = rng.standard_normal((n, B)), rng.standard_normal((n, B))
    q_data = rng.standard_normal((N, B))
    expected = np.zeros(N)
    for i in range(N):
        for b in range(B):
            if importance_sampling:     # 3n terms, each minus its log-density; uniform: log(0.5^A)
                terms = ([q_rand[i, j, b] - A * np.log(0.5) for j in range(n)]
                         + [q_pi[i, j, b] - lp_pi[j, b] for j in range(n)]
                         + [q_next[i, j, b] - lp_next[j, b] for j in range(n)])
                assert len(terms) == 3 * n
            else:                       # 3n sampled terms and the dataset's action
                terms = [q_rand[i, j, b] for j in range(n)] + [q_pi[i, j, b] for j in range(n)] \
                    + [q_next[i, j, b] for j in range(n)] + [q_data[i, b]]
            expected[i] += (np.log(np.sum(np.exp(terms))) - q_data[i, b]) / B
    f = lambda x: torch.tensor(x, dtype=torch.float32)  # noqa: E731
    gap = cql_gap(f(q_rand), f(q_pi), f(lp_pi), f(q_next), f(lp_next), f(q_data), A, 1.0, importance_sampling)
    assert gap.shape == (N,)
    np.testing.assert_allclose(gap.numpy(), expected, rtol=1e-5)


def test_cql_gap_checks_shapes():
    with pytest.raises(AssertionError, match="shapes"):
        cql_gap(torch.zeros(1, 2, 3), torch.zeros(1, 2, 4), torch.zeros(2, 4), torch.zeros(1, 2, 3),
                torch.zeros(2, 3), torch.zeros(1, 3), 1, 1.0, True)


def test_cql_critic_loss_fixed_alpha_by_hand():
    q = T([[1.0, 2.0], [0.0, 1.0]], requires_grad=True)
    gap = T([0.5, 2.0], requires_grad=True)
    # Bellman per critic: mean((0, 1)) = .5, mean((1, 0)) = .5; penalty 10 · gap = (5, 20); sum 26
    loss, info = cql_critic_loss(q, T([[1.0, 1.0]]), gap, cql_alpha=10.0, alpha_prime=None, target_action_gap=1.0)
    assert loss.item() == pytest.approx(26.0)
    assert info["loss_q"].item() == pytest.approx(1.0) and info["cql_gap"].item() == pytest.approx(1.25)
    assert info["q_mean"].item() == pytest.approx(1.0)
    loss.backward()
    torch.testing.assert_close(gap.grad, T([10.0, 10.0]))
    torch.testing.assert_close(q.grad, T([[0.0, 1.0], [-1.0, 0.0]]))   # 2 (Q - y) / B


def test_cql_critic_loss_lagrange_by_hand_and_alpha_prime_detached():
    q = T([[1.0, 2.0], [0.0, 1.0]])
    gap = T([0.5, 2.0], requires_grad=True)
    alpha_prime = T(2.0, requires_grad=True)
    # penalty α' · α_cql · (gap - τ) = 2 · 10 · (-.5, 1) = (-10, 20); + Bellman 1 = 11
    loss, _ = cql_critic_loss(q, T([[1.0, 1.0]]), gap, 10.0, alpha_prime, target_action_gap=1.0)
    assert loss.item() == pytest.approx(11.0)
    loss.backward()
    torch.testing.assert_close(gap.grad, T([20.0, 20.0]))
    assert alpha_prime.grad is None                       # the critics' loss does not train α'


@pytest.mark.parametrize("gap, loss_value, grad_sign", [
    ([12.0, 14.0], -30.0, -1.0),    # mean gap 13 > τ = 10: -(2 · 5 · 3) = -30, descending raises α'
    ([8.0, 8.0], 20.0, 1.0),        # gap 8 < τ: -(2 · 5 · -2) = 20, descending lowers α'
])
def test_lagrange_loss_sign(gap, loss_value, grad_sign):
    log_ap = T(math.log(2.0), requires_grad=True)
    gap_t = T(gap, requires_grad=True)
    loss, info = lagrange_loss(log_ap, gap_t, cql_alpha=5.0, target_action_gap=10.0)
    assert loss.item() == pytest.approx(loss_value) and info["alpha_prime"].item() == pytest.approx(2.0)
    loss.backward()
    assert log_ap.grad.item() == pytest.approx(loss_value)     # d/dlog α' of α'·c is α'·c
    assert math.copysign(1.0, log_ap.grad.item()) == grad_sign
    assert gap_t.grad is None                                   # the gap is a constant here
    before = log_ap.item()
    torch.optim.SGD([log_ap], lr=0.01).step()
    assert (log_ap.item() > before) == (grad_sign < 0)


def test_lagrange_alpha_prime_is_clamped():
    _, info = lagrange_loss(T(20.0, requires_grad=True), T([11.0]), 1.0, 10.0)
    assert info["alpha_prime"].item() == pytest.approx(1e6)



# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tiny_dataset, tmp_path):
    from keelrl.algos import CQLConfig
    from tests.algos.resume import assert_offline_resume_equal
    dataset_id, _ = tiny_dataset(steps=200)
    assert_offline_resume_equal("cql", CQLConfig(hidden_sizes=(8, 8), batch_size=16, cql_n_actions=2, lagrange=True, target_action_gap=1.0), tmp_path, dataset_id)
