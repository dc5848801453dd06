"""TanhNormal against torch's TransformedDistribution(Independent(Normal), TanhTransform)."""
import torch
from torch.distributions import Independent, Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

from keelrl.nn.distributions import TanhNormal, tanh_log_det_jacobian


def _reference(loc, log_std):
    return TransformedDistribution(Independent(Normal(loc, log_std.exp()), 1), [TanhTransform(cache_size=1)])


def test_log_prob_matches_transformed_distribution():
    torch.manual_seed(0)
    loc, log_std = torch.randn(5, 3, dtype=torch.float64), 0.3 * torch.randn(5, 3, dtype=torch.float64)
    dist = TanhNormal(loc, log_std)
    a, logp, u = dist.rsample((4,))
    assert a.shape == (4, 5, 3) and logp.shape == (4, 5)
    ref = _reference(loc, log_std).log_prob(a)  # summed over the action dim (Independent)
    torch.testing.assert_close(logp, ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(dist.log_prob_pre_tanh(u), ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(dist.log_prob(a), ref, rtol=1e-5, atol=1e-5)


def test_jacobian_is_stable_where_the_naive_form_is_not():
    u = torch.tensor([0.0, 1.0, 10.0, 30.0, -30.0])
    stable = tanh_log_det_jacobian(u)
    assert torch.isfinite(stable).all()
    naive = torch.log(1 - torch.tanh(u) ** 2)
    torch.testing.assert_close(stable[:2], naive[:2])
    assert torch.isinf(naive[3])  # what the stable form avoids
    # exact value for large |u|: log(4) - 2|u| + O(e^{-2|u|})
    torch.testing.assert_close(stable[3], torch.tensor(2 * (0.6931471805599453 - 30.0)))


def test_rsample_is_reparameterized():
    loc = torch.zeros(2, 3, requires_grad=True)
    log_std = torch.zeros(2, 3, requires_grad=True)
    a, logp, _ = TanhNormal(loc, log_std).rsample()
    (a.sum() + logp.sum()).backward()
    assert loc.grad is not None and log_std.grad is not None and loc.grad.abs().sum() > 0


def test_mode_is_tanh_of_mean():
    loc = torch.tensor([[0.5, -2.0]])
    torch.testing.assert_close(TanhNormal(loc, torch.zeros_like(loc)).mode, torch.tanh(loc))
