"""HyAR: the VAE loss, the latent space constraint and relabelling against hand computations; one
optimizer per network for the whole run; the VAE's schedule through the real loop; the hybrid
probes; resume equality. The VAE network: tests/nn/test_hybrid_vae.py."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from keelrl.algos.hyar import from_latent, hyar_vae_loss, latent_bounds, relabel_latents, to_latent
from keelrl.nn.hybrid_vae import HybridActionVAE
from keelrl.nn.vae import gaussian_kl
from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), vae_hidden=32, batch_size=64, buffer_size=5000, learning_starts=200, vae_pretrain=300,
           vae_every=50, vae_updates=5, lsc_samples=500, exploration_steps=300, noise_start=0.5, actor_lr=1e-3,
           critic_lr=3e-3, vae_lr=3e-3, tau=0.05)
STEPS = 800


def _vae(seed=0):
    torch.manual_seed(seed)
    return HybridActionVAE(obs_dim=3, num_actions=2, param_width=1, embed_dim=2, latent_dim=2, hidden=16)


def test_vae_loss_weights_its_three_mean_terms():
    vae, g = _vae(), torch.Generator().manual_seed(1)
    obs, index = torch.randn(5, 3, generator=g), torch.tensor([0, 1, 1, 0, 1])
    x, delta = torch.rand(5, 1, generator=g) * 2 - 1, torch.randn(5, 3, generator=g) * 0.1
    torch.manual_seed(7)
    loss, info = hyar_vae_loss(vae, obs, index, x, delta, 1.0, 2.0, 0.5)
    torch.manual_seed(7)                                   # the same reparameterization noise
    e = vae.embeddings()[index]
    mean, log_std = vae.encode(obs, e, x)
    z = mean + log_std.exp() * torch.randn_like(mean)
    x_hat, delta_hat = vae.decode(obs, z, e)
    kl = (-0.5 * (1 + 2 * log_std - mean.pow(2) - (2 * log_std).exp())).mean()   # the seed's form, a mean
    expected = F.mse_loss(delta_hat, delta) + 2 * F.mse_loss(x_hat, x) + 0.5 * kl
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    assert float(info["kl"]) == pytest.approx(float(gaussian_kl(mean, log_std).mean() / 2), rel=1e-5)


def test_latent_bounds_are_the_central_percentiles_per_dimension():
    z = torch.stack([torch.arange(101.0), -2 * torch.arange(101.0)], 1)    # 0..100 and 0..-200
    low, high = latent_bounds(z, 96.0)
    assert low.tolist() == pytest.approx([2.0, -196.0]) and high.tolist() == pytest.approx([98.0, -4.0])
    a = torch.tensor([[-1.0, 1.0], [0.0, 0.0]])
    assert torch.allclose(to_latent(a, low, high), torch.tensor([[2.0, -4.0], [50.0, -100.0]]))
    assert torch.allclose(from_latent(to_latent(a, low, high), low, high), a)


def test_relabelling_replaces_exactly_the_stale_latents():
    vae = _vae()
    table = vae.embeddings().detach()
    obs, index = torch.zeros(4, 3), torch.tensor([0, 1, 0, 1])
    x, delta = torch.zeros(4, 1), torch.zeros(4, 3)
    low, high = -torch.ones(2), torch.ones(2)
    e = torch.stack([table[0], table[0], table[0], table[1]])            # row 1 decodes to 0, not its 1
    latent = torch.cat([e, torch.zeros(4, 2)], 1)
    latent[3] = float("nan")                                              # an action the policy did not choose
    with torch.no_grad():
        _, delta_hat = vae.decode(obs, torch.zeros(4, 2), table[index])
    err = delta_hat.pow(2).mean(1)                                        # each row's state-change error
    dyn_error = float(err[2]) / 5.0 * 1.0001                              # row 2 sits just below 5x the mean error
    new, info = relabel_latents(vae, obs, index, x, delta, latent, low, high, dyn_error, 5.0, 0.1, 0.5)
    assert torch.equal(new[0], latent[0]) and torch.equal(new[2, :2], latent[2, :2])
    assert vae.nearest(new[1:2, :2]).item() == 1 and not torch.equal(new[1, :2], latent[1, :2])
    assert torch.isfinite(new[3]).all() and vae.nearest(new[3:4, :2]).item() == 1
    stale = err >= 5.0 * dyn_error
    assert float(info["relabel_params"]) == pytest.approx(float((stale | torch.tensor([0, 0, 0, 1]).bool()).float().mean()))
    assert float(info["relabel_discrete"]) == pytest.approx(0.5)
    kept, _ = relabel_latents(vae, obs, index, x, delta, latent, low, high, dyn_error, 5.0, 0.1, 0.5, verify=False)
    assert torch.equal(kept[:3], latent[:3]) and torch.isfinite(kept[3]).all()


def test_the_vae_keeps_one_optimizer_and_follows_its_schedule(tmp_path):
    """One Adam for the VAE over the whole run (its step count is every VAE update), and the loop
    pays vae_pretrain updates at the end of the warm-up, then vae_updates every vae_every steps."""
    agent = P.run_online("hyar", "ProbeObsAction", CFG, 500, tmp_path, hybrid=True)
    expected = CFG["vae_pretrain"] + (500 - CFG["learning_starts"]) // CFG["vae_every"] * CFG["vae_updates"]
    assert agent.vae_steps == expected
    steps = {int(s["step"]) for s in agent.vae_opt.state_dict()["state"].values()}
    assert steps == {expected}
    assert (agent.low < agent.high).all() and not torch.equal(agent.high, torch.ones_like(agent.high))


@pytest.mark.parametrize("probe", ["ProbeConstant", "ProbeTwoStep"])
def test_probe_values(probe, tmp_path):
    P.check_hybrid_values(P.run_online("hyar", probe, CFG, 500, tmp_path, hybrid=True), probe, tol=0.2)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    P.check_hybrid_actions(P.run_online("hyar", probe, CFG, STEPS, tmp_path, hybrid=True), probe)


def test_resumed_run_equals_uninterrupted(tmp_path):
    from keelrl.algos.hyar import HyARConfig
    from tests.algos.resume import assert_online_resume_equal
    cfg = HyARConfig(**{**CFG, "learning_starts": 60, "vae_pretrain": 20, "vae_every": 40, "vae_updates": 2})
    assert_online_resume_equal("hyar", cfg, tmp_path, "keel/Platform-v0", 2, 300, 170)


def test_ddpg_variant_is_one_critic_without_smoothing_or_delay():
    from keelrl.algos.hyar import DDPG, HyARConfig
    from keelrl.speed.bench import learner_setup
    setup = learner_setup("hyar", batch_size=16, overrides={**DDPG, "hidden_sizes": (8, 8), "vae_hidden": 8}, fill=64)
    assert setup.agent.critic_target(torch.zeros(1, 9), torch.zeros(1, 12)).shape == (1, 1)
    before = [p.clone() for p in setup.agent.actor.parameters()]
    setup.update()                                          # policy_delay 1: the actor moves at the first update
    assert any(not torch.equal(a, b) for a, b in zip(before, setup.agent.actor.parameters()))
    assert HyARConfig(**DDPG).policy_noise == 0.0
