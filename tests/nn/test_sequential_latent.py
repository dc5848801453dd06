"""SLAC's sequential latent variable model: shapes of the encoder, decoder and both samplers; every
term of the loss against torch.distributions by hand; the KL's prior conditioned on POSTERIOR z2
samples (not the prior rolled on its own); zero KL when q = p; masked steps that cannot move the
loss; a falling loss on a tiny moving-square video; the reconstruction strip."""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from keelrl.errors import KeelError
from keelrl.nn.pixel_encoder import SLACDecoder, SLACEncoder
from keelrl.nn.sequential_latent import SequentialLatentModel, latent_model_loss, reconstruction_strip
from keelrl.types import SequenceBatch

B, T, A, SIZE = 3, 4, 2, 16


def tiny_model(channels: int = 1, seed: int = 0, **kw) -> SequentialLatentModel:
    torch.manual_seed(seed)
    sizes = dict(size=SIZE, z1_dim=4, z2_dim=8, hidden=32, feature_dim=16, base_depth=4) | kw
    return SequentialLatentModel(channels, A, **sizes)


def random_batch(channels: int = 1, seed: int = 1, mask=None) -> SequenceBatch:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 256, (B, T + 1, channels, SIZE, SIZE), generator=g).float()
    mask = torch.ones(B, T) if mask is None else torch.as_tensor(mask, dtype=torch.float32)
    return SequenceBatch(obs, torch.rand(B, T, A, generator=g) * 2 - 1, torch.randn(B, T, generator=g),
                         torch.zeros(B, T), mask)


def test_slac_encoder_and_decoder_shapes_at_64_and_16_pixels():
    for size in (64, 16):
        enc, dec = SLACEncoder(3, size), SLACDecoder(3, size)
        assert enc(torch.rand(2, 3, size, size) * 255).shape == (2, 256)
        assert dec(torch.randn(2, 5, 32 + 256)).shape == (2, 5, 3, size, size)
    assert len([m for m in SLACEncoder(3, 64).convs if isinstance(m, nn.Conv2d)]) == 5     # the paper's five layers
    assert SLACDecoder(3).decoder_std == pytest.approx(math.sqrt(0.1))                       # variance 0.1
    with pytest.raises(KeelError, match="8, 16, 32 or 64"):
        SLACEncoder(3, 48)
    with pytest.raises(ValueError, match="standard deviation"):
        SLACDecoder(3, decoder_std=0.0)


def test_sample_posterior_and_prior_shapes_and_z2_sharing():
    model, batch = tiny_model(), random_batch()
    features = model.encode(batch.obs)
    assert features.shape == (B, T + 1, 16)
    post = model.sample_posterior(features, batch.action)
    for name, dim in (("z1", 4), ("z2", 8), ("z1_mean", 4), ("z1_std", 4)):
        assert getattr(post, name).shape == (B, T + 1, dim), name
    assert post.z.shape == (B, T + 1, 12) and (post.z1_std > 0).all()
    for prior in (model.sample_prior(batch.action), model.sample_prior(batch.action, z2_post=post.z2),
                  model.sample_prior(batch.action, first=(post.z1[:, 0], post.z2[:, 0]))):
        assert prior.z1.shape == prior.z1_mean.shape == (B, T + 1, 4) and prior.z2.shape == (B, T + 1, 8)
    # q(z2 | ·) = p(z2 | ·): the same modules, not copies
    assert model.z2_posterior is model.z2_prior and model.z2_init_posterior is model.z2_init_prior
    # the encoder's (B*(T+1)) flattening puts each frame's features back at its (b, t)
    torch.testing.assert_close(features[2, 3], model.encoder(batch.obs[2, 3][None])[0])


def by_hand(model, batch, post, z1_prior_mean, z1_prior_std):
    """The loss's three terms from torch.distributions, given posterior samples and a z1 prior."""
    obs_mask = torch.cat([torch.ones(B, 1), batch.mask], 1)
    kl = kl_divergence(Normal(post.z1_mean, post.z1_std), Normal(z1_prior_mean, z1_prior_std)).sum(-1)
    image = Normal(model.decoder(post.z), model.decoder_std).log_prob(batch.obs / 255).sum((2, 3, 4))
    r_mean, r_std = model.reward_model(torch.cat([post.z[:, :-1], batch.action, post.z[:, 1:]], -1))
    reward = Normal(r_mean[..., 0], r_std[..., 0]).log_prob(batch.reward)
    return ((obs_mask * kl).sum(1).mean(), -(obs_mask * image).sum(1).mean(), -(batch.mask * reward).sum(1).mean())


def test_loss_terms_by_hand_with_the_prior_at_posterior_z2_samples():
    """A version that rolls the prior on its own z2 samples (instead of the posterior's) fails here."""
    model, batch = tiny_model(), random_batch(mask=[[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]])
    torch.manual_seed(5)
    loss, info = latent_model_loss(model, batch)
    with torch.no_grad():
        torch.manual_seed(5)                     # the same ε: the loss draws the posterior's first
        post = model.sample_posterior(model.encode(batch.obs), batch.action)
        mean, std = model.z1_prior(torch.cat([post.z2[:, :-1], batch.action], -1))   # p(z1_{t+1} | z2_t^post, a_t)
        kl, image_nll, reward_nll = by_hand(model, batch, post, torch.cat([torch.zeros(B, 1, 4), mean], 1),
                                            torch.cat([torch.ones(B, 1, 4), std], 1))
        rolled = model.sample_prior(batch.action)                                    # the prior on its own samples
        wrong_kl, _, _ = by_hand(model, batch, post, rolled.z1_mean, rolled.z1_std)
    torch.testing.assert_close(info["kl"], kl)
    torch.testing.assert_close(info["image_nll"], image_nll)
    torch.testing.assert_close(info["reward_nll"], reward_nll)
    torch.testing.assert_close(loss, kl + image_nll + reward_nll)
    assert abs(float(wrong_kl - kl)) > 0.05 * float(kl), (float(wrong_kl), float(kl))


class StandardNormal(nn.Module):
    """q(z1_0 | x_0) replaced by p(z1_0) = N(0, I), the features ignored."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, features):
        zeros = features.new_zeros(*features.shape[:-1], self.dim)
        return zeros, torch.ones_like(zeros)


class PriorAsPosterior(nn.Module):
    """q(z1_{t+1} | f_{t+1}, z2_t, a_t) replaced by p(z1_{t+1} | z2_t, a_t): the features dropped."""

    def __init__(self, prior, feature_dim):
        super().__init__()
        self.prior, self.feature_dim = prior, feature_dim

    def forward(self, inputs):
        return self.prior(inputs[..., self.feature_dim:])


def test_kl_is_zero_when_the_posterior_is_the_prior_and_positive_otherwise():
    model, batch = tiny_model(), random_batch()
    _, info = latent_model_loss(model, batch)
    assert info["kl"] > 0.1
    model.z1_init_posterior = StandardNormal(model.z1_dim)
    model.z1_posterior = PriorAsPosterior(model.z1_prior, model.feature_dim)
    _, info = latent_model_loss(model, batch)
    assert float(info["kl"]) == pytest.approx(0.0, abs=1e-5)


def test_masked_steps_do_not_change_the_loss():
    model = tiny_model()
    batch = random_batch(mask=[[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 1]])
    obs, action, reward = batch.obs.clone(), batch.action.clone(), batch.reward.clone()
    obs[1, 3:] = 255 - obs[1, 3:]               # frames 3, 4 follow the masked steps 2, 3
    action[1, 2:], reward[1, 2:] = -action[1, 2:], reward[1, 2:] + 10
    changed = SequenceBatch(obs, action, reward, batch.terminated, batch.mask)
    losses = []
    for b in (batch, changed):
        torch.manual_seed(3)
        losses.append(latent_model_loss(model, b)[0])
    torch.testing.assert_close(losses[0], losses[1])
    obs = obs.clone()
    obs[1, 2] = 255 - obs[1, 2]                 # frame 2 is real (step 1 is): it does count
    torch.manual_seed(3)
    assert not torch.isclose(latent_model_loss(model, SequenceBatch(obs, action, reward, batch.terminated,
                                                                    batch.mask))[0], losses[0])


def moving_square(n: int, steps: int, side: int = 4, seed: int = 0) -> SequenceBatch:
    """A white square on black that the action (dx, dy) ∈ [-1, 1]² moves by round(3 a) pixels;
    reward: the square's x position in [0, 1] after the step."""
    g = torch.Generator().manual_seed(seed)
    action = torch.rand(n, steps, 2, generator=g) * 2 - 1
    pos = torch.randint(0, SIZE - side + 1, (n, 2), generator=g)
    frames, reward = torch.zeros(n, steps + 1, 1, SIZE, SIZE), torch.zeros(n, steps)
    for t in range(steps + 1):
        for i, (x, y) in enumerate(pos.tolist()):
            frames[i, t, 0, y:y + side, x:x + side] = 255.0
        if t < steps:
            pos = (pos + (3 * action[:, t]).round().long()).clamp(0, SIZE - side)
            reward[:, t] = pos[:, 0].float() / (SIZE - side)
    return SequenceBatch(frames, action, reward, torch.zeros(n, steps), torch.ones(n, steps))


def test_loss_falls_on_a_moving_square():
    data = moving_square(32, T)
    model = tiny_model(z1_dim=8, z2_dim=32, hidden=64, feature_dim=64, base_depth=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(200):
        idx = torch.randint(0, 32, (8,), generator=g)
        loss, info = latent_model_loss(model, SequenceBatch(data.obs[idx], data.action[idx], data.reward[idx],
                                                            data.terminated[idx], data.mask[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(info["loss_model"]))
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    # 5 frames x 256 pixels: a perfect reconstruction scores -297.6 nats, an all-black one +102.6
    assert last < first - 100, (first, last)


def test_reconstruction_strip_is_uint8_rows_of_frames():
    for channels in (1, 3):
        model, batch = tiny_model(channels), random_batch(channels)
        strip = reconstruction_strip(model, batch.obs[0], batch.action[0])
        assert strip.dtype == np.uint8 and strip.shape == (3 * SIZE, (T + 1) * SIZE, 3)
        real = batch.obs[0, 2, -1].numpy().astype(np.uint8)          # row 0, frame 2, last channel
        np.testing.assert_array_equal(strip[:SIZE, 2 * SIZE:3 * SIZE, 2], real)
