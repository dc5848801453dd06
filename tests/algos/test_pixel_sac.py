"""SAC from pixels: the action probes seen as frames, through the real off-policy loop with the slot
replay; the encoder learns from the critic only; resume equality on a pixel task."""
import numpy as np
import pytest
import torch

from keelrl.algos.pixel_sac import PixelSACAgent, PixelSACConfig
from keelrl.types import Batch, Spaces

from tests.algos import probes as P

TINY = dict(feature_dim=8, encoder_layers=2, encoder_filters=8, hidden_sizes=(32, 32), batch_size=32,
            buffer_size=2000, learning_starts=100, actor_lr=3e-3, critic_lr=3e-3, alpha_lr=3e-3,
            actor_update_period=1, target_update_period=1)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions_from_pixels(probe, tmp_path):
    P.check_pixel_actions(P.run_pixels("pixel_sac", probe, TINY, 400, tmp_path), probe)


def pixel_spaces():
    import gymnasium as gym
    return Spaces(gym.spaces.Box(0, 255, (3, 16, 16), np.uint8), gym.spaces.Box(-1.0, 1.0, (2,), np.float32))


def batch(b=8):
    g = torch.Generator().manual_seed(0)
    obs = torch.randint(0, 256, (b, 3, 16, 16), generator=g).float()
    return Batch(obs, torch.rand(b, 2, generator=g) * 2 - 1, torch.rand(b, generator=g), obs.flip(0), torch.zeros(b))


def test_the_encoder_learns_from_the_critic_and_not_from_the_actor():
    agent = PixelSACAgent(PixelSACConfig(**{**TINY, "actor_update_period": 1}), pixel_spaces())
    before = [p.detach().clone() for p in agent.encoder.parameters()]
    b = batch()
    alpha = agent.log_alpha.detach().exp()
    agent.actor_step(agent.encoder(b.obs).detach(), alpha)
    assert all(torch.equal(x, p) for x, p in zip(before, agent.encoder.parameters()))   # the actor: no change
    agent.critic_step(b.obs, b, b.next_obs, alpha)
    assert any(not torch.equal(x, p) for x, p in zip(before, agent.encoder.parameters()))
    target = [p.detach().clone() for p in agent.encoder_target.parameters()]
    agent.update(b)   # update 1 with periods 1: the target encoder moves by encoder_tau
    assert any(not torch.equal(x, p) for x, p in zip(target, agent.encoder_target.parameters()))


def test_resumed_run_equals_uninterrupted(tmp_path):
    from tests.algos.resume import assert_online_resume_equal
    cfg = PixelSACConfig(**{**TINY, "learning_starts": 30, "batch_size": 8, "augment": "shift"})
    assert_online_resume_equal("pixel_sac", cfg, tmp_path, "keel/PixelPoint-v0", num_envs=2, total=120, stop_at=60)
