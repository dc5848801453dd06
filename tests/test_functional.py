"""functional.py's vectorized math against plain Python loops over scalars, and by hand."""
import pytest
import torch

from keelrl.functional import gae, hard_update, n_step_returns, reverse_linear_scan, soft_update, td_target
from keelrl.functional import expectile_loss


def _episode_flags(t, n, seed):
    """Random terminated / truncated flags [T, N] (never both at one step), float64."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(t, n, generator=g, dtype=torch.float64)
    terminated = (u < 0.15).double()
    truncated = ((u >= 0.15) & (u < 0.3)).double()
    return terminated, truncated


# --------------------------------------------------------------------------- GAE

def gae_loop(r, v, v_next, term, end, gamma, lam):
    """Schulman et al. 2016, Eq. 16 as a reverse loop over python floats, one copy at a time."""
    t_len, n = len(r), len(r[0])
    adv = [[0.0] * n for _ in range(t_len)]
    for i in range(n):
        carry = 0.0
        for t in reversed(range(t_len)):
            delta = r[t][i] + gamma * (1.0 - term[t][i]) * v_next[t][i] - v[t][i]
            carry = delta + gamma * lam * (1.0 - end[t][i]) * carry
            adv[t][i] = carry
    return adv


@pytest.mark.parametrize("t, n", [(1, 1), (7, 3), (16, 2), (13, 4)])
def test_gae_equals_a_reverse_loop(t, n):
    g = torch.Generator().manual_seed(t * 10 + n)
    r, v, v_next = (torch.randn(t, n, generator=g, dtype=torch.float64) for _ in range(3))
    term, trunc = _episode_flags(t, n, seed=t + n)
    end = torch.maximum(term, trunc)
    gamma, lam = 0.97, 0.9
    got = gae(r, v, v_next, term, end, gamma, lam)
    expected = gae_loop(r.tolist(), v.tolist(), v_next.tolist(), term.tolist(), end.tolist(), gamma, lam)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_gae_truncation_bootstraps_termination_does_not_and_neither_carries_over():
    # one copy, 4 steps: step 1 is truncated, step 2 terminated
    r = torch.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
    v = torch.tensor([[10.0], [20.0], [30.0], [40.0]], dtype=torch.float64)
    v_next = torch.tensor([[20.0], [100.0], [7.0], [50.0]], dtype=torch.float64)  # 100: V(final obs) at truncation
    term = torch.tensor([[0.0], [0.0], [1.0], [0.0]], dtype=torch.float64)
    trunc = torch.tensor([[0.0], [1.0], [0.0], [0.0]], dtype=torch.float64)
    end = torch.maximum(term, trunc)
    gamma, lam = 0.5, 0.8
    adv = gae(r, v, v_next, term, end, gamma, lam)[:, 0].tolist()
    a3 = 4.0 + 0.5 * 50.0 - 40.0                 # last step, no successor in the segment: -11
    a2 = 3.0 - 30.0                               # terminated: no bootstrap (v_next = 7 ignored), no carry of a3
    a1 = 2.0 + 0.5 * 100.0 - 20.0                 # truncated: bootstraps from V(final obs), no carry of a2
    a0 = (1.0 + 0.5 * 20.0 - 10.0) + 0.5 * 0.8 * a1
    assert adv == pytest.approx([a0, a1, a2, a3], abs=1e-12)


# --------------------------------------------------------------------------- reverse linear scan

def scan_loop(x, c):
    y, carry = [0.0] * len(x), 0.0
    for t in reversed(range(len(x))):
        carry = x[t] + c[t] * carry
        y[t] = carry
    return y


@pytest.mark.parametrize("t", [1, 2, 3, 5, 8, 13, 64, 100])
def test_reverse_linear_scan_equals_the_loop(t):
    g = torch.Generator().manual_seed(t)
    x = torch.randn(t, 3, generator=g, dtype=torch.float64)
    c = torch.rand(t, 3, generator=g, dtype=torch.float64) * (torch.rand(t, 3, generator=g) > 0.2).double()
    got = reverse_linear_scan(x, c)
    for j in range(3):
        expected = scan_loop(x[:, j].tolist(), c[:, j].tolist())
        torch.testing.assert_close(got[:, j], torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_reverse_linear_scan_does_not_touch_its_inputs():
    x, c = torch.arange(5.0), torch.full((5,), 0.5)
    x0, c0 = x.clone(), c.clone()
    reverse_linear_scan(x, c)
    assert torch.equal(x, x0) and torch.equal(c, c0)


def test_reverse_linear_scan_discounted_sum_by_hand():
    # y_0 = 1 + .5 (2 + .5 · 3) = 2.75, y_1 = 3.5, y_2 = 3
    torch.testing.assert_close(reverse_linear_scan(torch.tensor([1.0, 2.0, 3.0]), torch.full((3,), 0.5)),
                               torch.tensor([2.75, 3.5, 3.0]))


# --------------------------------------------------------------------------- n-step returns

def n_step_loop(r, d, gamma, n):
    """R_t = Σ_{k<m_t} γ^k r_{t+k}, stopping after a done step or at the segment's end; m_t its length."""
    t_len = len(r)
    ret, steps = [0.0] * t_len, [0] * t_len
    for t in range(t_len):
        for k in range(n):
            if t + k >= t_len:
                break
            ret[t] += gamma ** k * r[t + k]
            steps[t] += 1
            if d[t + k]:
                break
    return ret, steps


def _n_step_case(n):
    t, copies = 9, 3
    g = torch.Generator().manual_seed(n)
    r = torch.randn(t, copies, generator=g, dtype=torch.float64)
    term, trunc = _episode_flags(t, copies, seed=n)
    done = torch.maximum(term, trunc)
    done[4, 0] = 1.0                          # at least one episode end in the middle
    done[-1, 1] = 0.0                         # and a copy still running when the segment ends
    return r, done


@pytest.mark.parametrize("n", [1, 3, 11])      # 11 = T + 2: longer than the segment
def test_n_step_returns_equal_the_loop(n):
    r, done = _n_step_case(n)
    gamma = 0.9
    ret, _ = n_step_returns(r, done, gamma, n)
    for i in range(r.shape[1]):
        exp_ret, _ = n_step_loop(r[:, i].tolist(), done[:, i].tolist(), gamma, n)
        torch.testing.assert_close(ret[:, i], torch.tensor(exp_ret, dtype=torch.float64), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [1, 3, 11])
def test_n_step_step_counts_equal_the_loop(n):
    r, done = _n_step_case(n)
    _, steps = n_step_returns(r, done, 0.9, n)
    for i in range(r.shape[1]):
        _, exp_steps = n_step_loop(r[:, i].tolist(), done[:, i].tolist(), 0.9, n)
        assert steps[:, i].tolist() == exp_steps, f"copy {i}"


def test_n_step_returns_by_hand():
    r = torch.tensor([[1.0], [2.0], [4.0], [8.0]])
    done = torch.tensor([[0.0], [1.0], [0.0], [0.0]])
    ret, steps = n_step_returns(r, done, 0.5, 3)
    # t=0: 1 + .5·2 (episode ends at 1); t=1: 2; t=2: 4 + .5·8 (segment ends); t=3: 8
    torch.testing.assert_close(ret[:, 0], torch.tensor([2.0, 2.0, 8.0, 8.0]))
    assert steps[:2, 0].tolist() == [2.0, 1.0]      # cut by the episode end


def test_n_step_counts_stop_at_the_segment_end():
    r, done = torch.tensor([[1.0], [2.0], [4.0], [8.0]]), torch.zeros(4, 1)
    _, steps = n_step_returns(r, done, 0.5, 3)
    assert steps[:, 0].tolist() == [3.0, 3.0, 2.0, 1.0]     # at most the steps left in the segment


def test_n_step_returns_checks_shapes():
    with pytest.raises(AssertionError, match="shapes"):
        n_step_returns(torch.zeros(3), torch.zeros(3), 0.9, 2)


# --------------------------------------------------------------------------- target networks, TD target

def test_soft_update_by_hand():
    target = [torch.tensor([1.0, 2.0]), torch.tensor([[0.0]])]
    online = [torch.tensor([3.0, -2.0]), torch.tensor([[10.0]])]
    soft_update(target, online, 0.25)
    # θ' ← .25 θ + .75 θ'
    torch.testing.assert_close(target[0], torch.tensor([1.5, 1.0]))
    torch.testing.assert_close(target[1], torch.tensor([[2.5]]))
    torch.testing.assert_close(online[0], torch.tensor([3.0, -2.0]))    # the online weights are untouched


def test_soft_update_on_module_parameters_with_grad():
    torch.manual_seed(0)
    online, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in target.parameters()]
    soft_update(target.parameters(), online.parameters(), 0.1)
    for p_t, p_0, p_o in zip(target.parameters(), before, online.parameters()):
        torch.testing.assert_close(p_t.detach(), 0.1 * p_o.detach() + 0.9 * p_0)
    soft_update(target.parameters(), online.parameters(), 1.0)          # τ = 1 is a copy
    for p_t, p_o in zip(target.parameters(), online.parameters()):
        torch.testing.assert_close(p_t, p_o)


def test_hard_update_copies_values_not_storage():
    target, online = [torch.zeros(3)], [torch.tensor([1.0, 2.0, 3.0])]
    hard_update(target, online)
    assert torch.equal(target[0], online[0])
    online[0].add_(1.0)
    assert target[0].tolist() == [1.0, 2.0, 3.0]


def test_td_target_by_hand_and_broadcast_over_an_ensemble():
    r, d = torch.tensor([1.0, 2.0, -1.0]), torch.tensor([0.0, 1.0, 0.0])
    v = torch.tensor([[10.0, 10.0, 4.0], [0.0, 5.0, -4.0]])     # [E=2, B=3]
    y = td_target(r, d, v, 0.9)
    torch.testing.assert_close(y, torch.tensor([[10.0, 2.0, 2.6], [1.0, 2.0, -4.6]]))


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


@pytest.mark.parametrize("tau, expected", [
    # u = (-2, 1, 0, 3): weight 1 - τ where u < 0, τ elsewhere (u = 0 included), times u²
    (0.7, [0.3 * 4, 0.7 * 1, 0.0, 0.7 * 9]),
    (0.2, [0.8 * 4, 0.2 * 1, 0.0, 0.2 * 9]),
    (0.5, [0.5 * 4, 0.5 * 1, 0.0, 0.5 * 9]),
])
def test_expectile_loss_by_hand(tau, expected):
    torch.testing.assert_close(expectile_loss(T([-2.0, 1.0, 0.0, 3.0]), tau), T(expected))



def test_diagonal_gaussian_kl_matches_torch_distributions():
    from torch.distributions import Normal, kl_divergence
    from keelrl.functional import diagonal_gaussian_kl
    g = torch.Generator().manual_seed(0)
    mq, lq, mp, lp = (torch.randn(4, 3, 5, generator=g) for _ in range(4))
    expected = kl_divergence(Normal(mq, lq.exp()), Normal(mp, lp.exp())).sum(-1)
    torch.testing.assert_close(diagonal_gaussian_kl(mq, lq, mp, lp), expected)
    assert torch.allclose(diagonal_gaussian_kl(mq, lq, mq, lq), torch.zeros(4, 3), atol=1e-6)
    from keelrl.nn.vae import gaussian_kl
    torch.testing.assert_close(diagonal_gaussian_kl(mq, lq, torch.zeros_like(mq), torch.zeros_like(lq)), gaussian_kl(mq, lq))


def test_gaussian_kernel_mmd_by_hand():
    from keelrl.functional import gaussian_kernel_mmd
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[3.0]])
    k = lambda a, b: torch.exp(torch.tensor(-(a - b) ** 2 / 2.0))
    by_hand = (k(0, 0) + 2 * k(0, 1) + k(1, 1)) / 4 + 1.0 - 2 * (k(0, 3) + k(1, 3)) / 2
    torch.testing.assert_close(gaussian_kernel_mmd(x, y, bandwidth=1.0), by_hand)
    assert gaussian_kernel_mmd(x, x.clone(), 1.0).abs() < 1e-6
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g)
    assert gaussian_kernel_mmd(a, b) < gaussian_kernel_mmd(a, b + 2.0)       # the median bandwidth sees the shift


def test_info_nce_loss_by_hand():
    from keelrl.functional import info_nce_loss
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.5, 1.0, 0.0], [0.0, 3.0, -1.0]])
    by_hand = -sum(torch.log_softmax(logits[i], 0)[i] for i in range(3)) / 3
    loss, info = info_nce_loss(logits)
    torch.testing.assert_close(loss, by_hand)
    torch.testing.assert_close(info["contrastive_accuracy"], torch.tensor(2 / 3))
    torch.testing.assert_close(info_nce_loss(torch.zeros(5, 5))[0], torch.log(torch.tensor(5.0)))
