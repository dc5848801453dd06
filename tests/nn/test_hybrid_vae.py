"""HyAR's conditional VAE: shapes, element-wise fusion (the condition gates the input), bounded
outputs, and nearest-embedding decoding."""
import torch

from keelrl.nn.hybrid_vae import HybridActionVAE


def test_shapes_bounds_and_nearest_embedding():
    torch.manual_seed(0)
    vae = HybridActionVAE(obs_dim=4, num_actions=3, param_width=2, embed_dim=5, latent_dim=6, hidden=16)
    e = vae.embeddings()
    assert e.shape == (3, 5) and e.abs().max() < 1
    obs, x = torch.randn(7, 4), torch.rand(7, 2) * 2 - 1
    k = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    mean, log_std = vae.encode(obs, e[k], x)
    assert mean.shape == log_std.shape == (7, 6) and log_std.min() >= -4 and log_std.max() <= 15
    x_hat, delta = vae.decode(obs, mean, e[k])
    assert x_hat.shape == (7, 2) and delta.shape == (7, 4) and x_hat.abs().max() <= 1 and delta.abs().max() <= 1
    assert torch.equal(vae.nearest(e[k] + 1e-3), k)


def test_the_condition_gates_the_input():
    """A condition whose features are all zero after ReLU zeroes the fused features whatever x is."""
    torch.manual_seed(0)
    vae = HybridActionVAE(obs_dim=2, num_actions=2, param_width=1, embed_dim=2, latent_dim=2, hidden=8)
    with torch.no_grad():
        vae.enc_cond.weight.zero_()
        vae.enc_cond.bias.fill_(-1.0)
    obs, e = torch.randn(3, 2), vae.embeddings()[[0, 1, 0]]
    a = vae.encode(obs, e, torch.full((3, 1), -1.0))
    b = vae.encode(obs, e, torch.full((3, 1), 1.0))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
