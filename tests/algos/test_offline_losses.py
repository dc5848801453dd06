"""Offline algorithms' pure losses (IQL, TD3+BC, BC, CQL, SAC-N, EDAC, AWAC) and their building
blocks against hand-computed references on tiny tensors."""
import math

import numpy as np
import pytest
import torch

from keelrl.algos.awac import awac_critic_loss
from keelrl.algos.bc import bc_mse_loss, bc_nll_loss
from keelrl.algos.cql import cql_critic_loss, cql_gap, lagrange_loss
from keelrl.algos.edac import critic_action_gradients, edac_diversity_loss
from keelrl.algos.iql import awr_weights, iql_actor_loss, iql_critic_loss, iql_value_loss
from keelrl.algos.sac_n import ensemble_critic_loss
from keelrl.algos.td3_bc import td3_bc_actor_loss
from keelrl.data.normalization import FixedNormalizer
from keelrl.functional import expectile_loss
from keelrl.nn.ensemble import EnsembleCritic, EnsembleMLP, edac_init_, orthogonal_init_

T = torch.tensor


# --------------------------------------------------------------------------- expectile / IQL

@pytest.mark.parametrize("tau, expected", [
    # u = (-2, 1, 0, 3): weight 1 - τ where u < 0, τ elsewhere (u = 0 included), times u²
    (0.7, [0.3 * 4, 0.7 * 1, 0.0, 0.7 * 9]),
    (0.2, [0.8 * 4, 0.2 * 1, 0.0, 0.2 * 9]),
    (0.5, [0.5 * 4, 0.5 * 1, 0.0, 0.5 * 9]),
])
def test_expectile_loss_by_hand(tau, expected):
    torch.testing.assert_close(expectile_loss(T([-2.0, 1.0, 0.0, 3.0]), tau), T(expected))


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


# --------------------------------------------------------------------------- TD3+BC, BC

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


def test_bc_mse_loss_by_hand():
    pi = T([[0.0, 1.0], [1.0, 1.0]], requires_grad=True)
    a = T([[1.0, 1.0], [1.0, -1.0]])
    loss, info = bc_mse_loss(pi, a)
    assert loss.item() == pytest.approx(1.25) and info["loss_bc"].item() == pytest.approx(1.25)   # (1 + 0 + 0 + 4) / 4
    loss.backward()
    torch.testing.assert_close(pi.grad, T([[-0.5, 0.0], [0.0, 1.0]]))
    with pytest.raises(AssertionError, match="shapes"):
        bc_mse_loss(pi, a[:, :1])


def test_bc_nll_loss_by_hand():
    lp = T([-1.0, -3.0], requires_grad=True)
    loss, info = bc_nll_loss(lp)
    assert loss.item() == pytest.approx(2.0)
    loss.backward()
    torch.testing.assert_close(lp.grad, T([-0.5, -0.5]))
    with pytest.raises(AssertionError, match="log_prob"):
        bc_nll_loss(T([[-1.0]]))


# --------------------------------------------------------------------------- CQL

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


# --------------------------------------------------------------------------- SAC-N, AWAC

def test_ensemble_critic_loss_by_hand():
    q = T([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss, info = ensemble_critic_loss(q, T([[2.0, 2.0]]))
    # Σ_j mean_b: critic 1 mean(1, 0) = .5, critic 2 mean(1, 4) = 2.5
    assert loss.item() == pytest.approx(3.0)
    assert info["q_mean"].item() == pytest.approx(2.5)
    assert info["q_std"].item() == pytest.approx(math.sqrt(2))     # std over the critics (1, 3) and (2, 4)
    loss.backward()
    torch.testing.assert_close(q.grad, T([[-1.0, 0.0], [1.0, 2.0]]))


def test_awac_critic_loss_by_hand():
    q = T([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss, info = awac_critic_loss(q, T([2.0, 2.0]))
    assert loss.item() == pytest.approx(3.0) and info["q_mean"].item() == pytest.approx(2.5)
    loss.backward()
    torch.testing.assert_close(q.grad, T([[-1.0, 0.0], [1.0, 2.0]]))
    with pytest.raises(AssertionError, match="shapes"):
        awac_critic_loss(q, T([[2.0, 2.0]]))


# --------------------------------------------------------------------------- EDAC

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


# --------------------------------------------------------------------------- normalizer, initializations

def test_fixed_normalizer():
    norm = FixedNormalizer(2, "cpu")
    torch.testing.assert_close(norm(np.array([[3.0, 6.0]])), T([[3.0, 6.0]]))       # the identity before set
    mean, std = T([1.0, 2.0]), T([2.0, 4.0])
    norm.set(mean, std)
    mean.add_(100.0)                                                                  # set copies
    torch.testing.assert_close(norm(np.array([[3.0, 6.0], [1.0, 2.0]], np.float64)), T([[1.0, 1.0], [0.0, 0.0]]))
    out = norm(T([[5.0, 10.0]]))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, T([[2.0, 2.0]]))
    other = FixedNormalizer(2, "cpu")
    other.load_state_dict(norm.state_dict())
    torch.testing.assert_close(other(T([[5.0, 10.0]])), T([[2.0, 2.0]]))


def test_orthogonal_init_each_member_orthogonal_with_its_gain():
    torch.manual_seed(0)
    net = EnsembleMLP(3, 5, (8, 4), 1)     # layers 5->8 (tall), 8->4 (wide), 4->1 (output)
    orthogonal_init_(net, hidden_gain=math.sqrt(2), last_gain=1e-2)
    gains = [math.sqrt(2), math.sqrt(2), 1e-2]
    for layer, g in zip(net.layers, gains):
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
        for i in range(3):
            w = layer.weight[i].detach().T.double()                 # nn.Linear's [out, in] view
            out_dim, in_dim = w.shape
            if out_dim >= in_dim:
                gram, k = w.T @ w, in_dim                            # orthonormal columns
            else:
                gram, k = w @ w.T, out_dim                           # orthonormal rows
            torch.testing.assert_close(gram, g * g * torch.eye(k, dtype=torch.float64), atol=1e-6, rtol=1e-5)
        assert not torch.equal(layer.weight[0], layer.weight[1])     # members drawn independently


def test_edac_init_biases_and_last_layer():
    torch.manual_seed(0)
    net = EnsembleMLP(4, 5, (8, 8), 1)
    hidden_w = [layer.weight.detach().clone() for layer in net.layers[:-1]]
    edac_init_(net)
    for layer, w in zip(net.layers[:-1], hidden_w):
        assert torch.equal(layer.bias, torch.full_like(layer.bias, 0.1))
        assert torch.equal(layer.weight, w)                          # hidden weights keep the default
    last = net.layers[-1]
    for p in (last.weight, last.bias):
        assert p.abs().max() <= 3e-3 and p.abs().max() > 0
        assert p.unique().numel() == p.numel()                       # drawn, not filled
