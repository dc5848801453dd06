"""The VAE pieces: the closed-form KL equals torch's, samples have the encoder's moments, and the
reparameterized sample passes gradients to μ and σ."""
import torch

from keelrl.nn.vae import GaussianHead, gaussian_kl, reparameterize


def test_closed_form_kl_equals_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mean, log_std = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g) * 0.5
    q = torch.distributions.Normal(mean, log_std.exp())
    p = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(gaussian_kl(mean, log_std), expected)
    assert gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() == 0   # q = p: no divergence


def test_samples_have_the_encoders_moments_and_pass_gradients():
    mean = torch.tensor([1.0, -2.0], requires_grad=True)
    log_std = torch.tensor([0.0, -1.0], requires_grad=True)
    z = reparameterize(mean.expand(200_000, 2), log_std.expand(200_000, 2), torch.Generator().manual_seed(1))
    torch.testing.assert_close(z.mean(0), mean.detach(), atol=0.01, rtol=0)
    torch.testing.assert_close(z.std(0), log_std.detach().exp(), atol=0.01, rtol=0)
    z.sum().backward()
    assert mean.grad.tolist() == [200_000.0, 200_000.0]          # dz/dμ = 1
    assert (log_std.grad.abs() > 0).all()                        # dz/dlog σ = σ ε


def test_the_head_clamps_log_sigma():
    head = GaussianHead(3, 2, log_std_min=-1.0, log_std_max=0.5)
    with torch.no_grad():
        head.log_std.bias.fill_(100.0)
    mean, log_std = head(torch.zeros(4, 3))
    assert mean.shape == log_std.shape == (4, 2) and (log_std == 0.5).all()
