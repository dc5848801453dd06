"""VAE-SAC: the action probes seen as frames (the VAE pre-trained on the warm-up's frames, then
learned alongside); the VAE loss by hand; no RL gradient reaches the VAE; the side-update schedule;
resume equality."""
import numpy as np
import pytest
import torch

from keelrl.algos.vae_sac import VAESACAgent, VAESACConfig, pixel_vae_loss
from keelrl.types import Batch

from tests.algos import probes as P
from tests.algos.test_pixel_sac import batch, pixel_spaces

TINY = dict(latent_dim=4, encoder_layers=2, encoder_filters=8, hidden_sizes=(32, 32), batch_size=32,
            vae_batch_size=32, vae_pretrain=100, buffer_size=2000, learning_starts=100, actor_lr=3e-3,
            critic_lr=3e-3, alpha_lr=3e-3, vae_lr=3e-3)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions_from_pixels(probe, tmp_path):
    P.check_pixel_actions(P.run_pixels("vae_sac", probe, TINY, 400, tmp_path), probe)


def test_pixel_vae_loss_by_hand():
    recon = torch.full((2, 1, 1, 2), 255.0, requires_grad=True)
    obs = torch.tensor([[[[255.0, 0.0]]], [[[127.5, 255.0]]]])
    mean, log_std = torch.tensor([[1.0], [0.0]]), torch.tensor([[0.0], [0.0]])
    loss, info = pixel_vae_loss(recon, obs, mean, log_std, beta=2.0, pixel_std=0.5)
    nll = np.array([(0 + 1.0) / 0.5, (0.25 + 0) / 0.5])          # Σ (x̂ - x)² / (2 σ²), in [0, 1] units
    kl = np.array([0.5, 0.0])
    assert info["recon_nll"].item() == pytest.approx(nll.mean()) and info["kl"].item() == pytest.approx(kl.mean())
    assert loss.item() == pytest.approx((nll + 2.0 * kl).mean())


def test_rl_updates_leave_the_vae_alone_and_the_representation_update_moves_it():
    agent = VAESACAgent(VAESACConfig(**TINY), pixel_spaces())
    before = [p.detach().clone() for p in agent.vae.parameters()]
    agent.update(batch())
    assert all(torch.equal(x, p) for x, p in zip(before, agent.vae.parameters()))
    agent.update_representation(batch())
    assert any(not torch.equal(x, p) for x, p in zip(before, agent.vae.parameters()))
    assert agent.vae_updates == 1 and agent.vae_opt.state_dict()["state"][0]["step"] == 1


def test_the_vae_pretrains_when_the_warm_up_ends_then_follows_its_schedule(tmp_path):
    from keelrl import RunConfig, load_agent, train
    cfg = VAESACConfig(**{**TINY, "vae_pretrain": 7, "vae_every": 4, "vae_updates": 2, "learning_starts": 40})
    run = RunConfig(env="keel/PixelPoint-v0", total_steps=80, eval_every=0, eval_episodes=0, log_every=10 ** 9,
                    checkpoint_every=10 ** 9, run_dir=str(tmp_path / "run"), progress=False, device="cpu")
    agent = load_agent(train("vae_sac", run, cfg))
    assert agent.vae_updates == 7 + 2 * 10        # pre-training at step 40, then at steps 44, 48, ..., 80


def test_resumed_run_equals_uninterrupted(tmp_path):
    from tests.algos.resume import assert_online_resume_equal
    cfg = VAESACConfig(**{**TINY, "learning_starts": 30, "batch_size": 8, "vae_batch_size": 8, "vae_pretrain": 5})
    assert_online_resume_equal("vae_sac", cfg, tmp_path, "keel/PixelPoint-v0", num_envs=2, total=120, stop_at=60)
