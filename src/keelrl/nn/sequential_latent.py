"""SLAC's sequential latent variable model (Lee, Nagabandi, Abbeel & Levine 2020, "Stochastic Latent
Actor-Critic", NeurIPS): two latents per step, z1 (32) and z2 (256), z_t = [z1_t, z2_t].

    prior (generative model)                      posterior (inference model)
    p(z1_0) = N(0, I)                             q(z1_0 | x_0)                    z1_init_posterior
    p(z2_0 | z1_0)             z2_init_prior      q(z2_0 | z1_0) = p(z2_0 | z1_0)
    p(z1_{t+1} | z2_t, a_t)    z1_prior           q(z1_{t+1} | x_{t+1}, z2_t, a_t) z1_posterior
    p(z2_{t+1} | z1_{t+1}, z2_t, a_t)  z2_prior   q(z2_{t+1} | ...) = p(z2_{t+1} | ...)
    p(x_t | z_t) = N(decoder(z_t), decoder_std² I)                                 decoder (SLACDecoder)
    p(r_t | z_t, a_t, z_{t+1}) = N(μ, σ²)         reward_model
    x_t -> features f_t                           encoder (SLACEncoder); q sees x_t only through f_t

Why z2's posterior IS its prior (the same module, not a copy). The image enters the posterior only
through z1: q(z1_{t+1} | x_{t+1}, z2_t, a_t). Given z1_{t+1} and the past, z2_{t+1} carries history
forward, like a recurrent state with noise, and the paper lets its distribution be the same under q
and p. Then the z2 factors of q(z_{0:T}) and p(z_{0:T}) are identical, they cancel in log q / p, and
the KL of the ELBO keeps only z1's terms: KL(q(z1_{t+1} | ·) || p(z1_{t+1} | z2_t, a_t)), with z2_t a
POSTERIOR sample. Sharing the networks also means z2's transition is trained by both the posterior
path (through the decoder) and the prior path (through z1's KL), so what the prior rolls out is the
same map the posterior used.

Every MLP: 2 hidden layers of 256 with leaky ReLU (slope 0.2), linear output; a Gaussian's std is
softplus(raw) + 1e-5 (the reference code's choice), never exp. Weights Glorot-uniform, biases zero
(the Keras defaults the reference code trained with).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from keelrl.functional import diagonal_gaussian_kl
from keelrl.nn.mlp import mlp
from keelrl.nn.pixel_encoder import SLACDecoder, SLACEncoder
from keelrl.types import SequenceBatch

MIN_STD = 1e-5
"""Added to softplus so that no std reaches 0 (the KL divides by the prior's variance)."""


class GaussianMLP(nn.Module):
    """inputs [..., I] -> (mean [..., D], std [..., D]): an MLP (2 x 256, leaky ReLU 0.2) whose output
    is split in two; std = softplus(raw) + MIN_STD."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = mlp(in_dim, [hidden, hidden], 2 * out_dim, functools.partial(nn.LeakyReLU, 0.2))

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw = self.net(inputs).chunk(2, dim=-1)
        return mean, F.softplus(raw) + MIN_STD


class LatentSample(NamedTuple):
    """Samples of a sequence's latents and the parameters of z1's distribution at each step."""

    z1: torch.Tensor         # [B, T+1, Z1]
    z2: torch.Tensor         # [B, T+1, Z2]
    z1_mean: torch.Tensor    # [B, T+1, Z1]
    z1_std: torch.Tensor     # [B, T+1, Z1]

    @property
    def z(self) -> torch.Tensor:
        """z_t = [z1_t, z2_t]: [B, T+1, Z1 + Z2], the state SLAC's critic sees."""
        return torch.cat([self.z1, self.z2], dim=-1)


def _glorot_(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class SequentialLatentModel(nn.Module):
    """SLAC's latent variable model of C-channel square frames (64x64 in the paper; 8, 16, 32 work
    for tests) and A-dimensional actions. See the module docstring for each distribution."""

    def __init__(self, obs_channels: int, action_dim: int, size: int = 64, z1_dim: int = 32, z2_dim: int = 256,
                 hidden: int = 256, feature_dim: int = 256, base_depth: int = 32,
                 decoder_std: float = 0.1 ** 0.5) -> None:
        super().__init__()
        if min(obs_channels, action_dim, z1_dim, z2_dim, hidden, feature_dim, base_depth) < 1:
            raise ValueError("channels, action_dim, latent sizes, hidden, feature_dim and base_depth must all be >= 1")
        self.z1_dim, self.z2_dim, self.action_dim, self.feature_dim = z1_dim, z2_dim, action_dim, feature_dim
        a, f = action_dim, feature_dim
        self.encoder = SLACEncoder(obs_channels, size, feature_dim, base_depth)
        self.decoder = SLACDecoder(obs_channels, size, z1_dim + z2_dim, base_depth, decoder_std)
        # priors; p(z1_0) = N(0, I) has no parameters
        self.z2_init_prior = GaussianMLP(z1_dim, z2_dim, hidden)                      # p(z2_0 | z1_0)
        self.z1_prior = GaussianMLP(z2_dim + a, z1_dim, hidden)                       # p(z1_{t+1} | z2_t, a_t)
        self.z2_prior = GaussianMLP(z1_dim + z2_dim + a, z2_dim, hidden)              # p(z2_{t+1} | z1_{t+1}, z2_t, a_t)
        # posteriors
        self.z1_init_posterior = GaussianMLP(f, z1_dim, hidden)                       # q(z1_0 | x_0)
        self.z1_posterior = GaussianMLP(f + z2_dim + a, z1_dim, hidden)               # q(z1_{t+1} | x_{t+1}, z2_t, a_t)
        self.z2_init_posterior = self.z2_init_prior                                   # q(z2_0 | z1_0) = p(z2_0 | z1_0)
        self.z2_posterior = self.z2_prior                                             # q(z2_{t+1} | ·) = p(z2_{t+1} | ·)
        z = z1_dim + z2_dim
        self.reward_model = GaussianMLP(z + a + z, 1, hidden)                         # p(r_t | z_t, a_t, z_{t+1})
        self.apply(_glorot_)

    @property
    def decoder_std(self) -> float:
        """The fixed pixel standard deviation of p(x | z), in units of pixel / 255."""
        return self.decoder.decoder_std

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """obs [B, T+1, C, H, W] pixel values 0..255 -> features [B, T+1, F].

        The convolutions take a batch of single frames, so the sequence is flattened first:
        [B, T+1, C, H, W] -> [B*(T+1), C, H, W]. Row-major order keeps each sequence's frames
        together: row b*(T+1) + t is frame t of sequence b (rows 0..T are sequence 0, rows
        T+1..2T+1 sequence 1, ...), so viewing the [B*(T+1), F] output as [B, T+1, F] puts every
        feature back at its (b, t)."""
        b, steps = obs.shape[:2]
        features = self.encoder(obs.reshape(b * steps, *obs.shape[2:]))               # [B*(T+1), F]
        return features.view(b, steps, -1)                                           # [B, T+1, F]

    def sample_posterior(self, features: torch.Tensor, actions: torch.Tensor) -> LatentSample:
        """Filter a sequence: features [B, T+1, F], actions [B, T, A] -> z1, z2 samples and
        q(z1_t)'s mean and std, all [B, T+1, ...], each sample reparameterized (z = μ + σ ε)."""
        # q(z1_0 | x_0)
        z1_mean, z1_std = self.z1_init_posterior(features[:, 0])
        z1 = z1_mean + torch.randn_like(z1_std) * z1_std
        # q(z2_0 | z1_0) = p(z2_0 | z1_0)
        z2_mean, z2_std = self.z2_init_posterior(z1)
        z2 = z2_mean + torch.randn_like(z2_std) * z2_std
        z1_means, z1_stds, z1s, z2s = [z1_mean], [z1_std], [z1], [z2]
        for t in range(1, actions.shape[1] + 1):
            # q(z1_t | x_t, z2_{t-1}, a_{t-1})
            z1_mean, z1_std = self.z1_posterior(torch.cat([features[:, t], z2, actions[:, t - 1]], dim=-1))
            z1 = z1_mean + torch.randn_like(z1_std) * z1_std
            # q(z2_t | z1_t, z2_{t-1}, a_{t-1}) = p(z2_t | z1_t, z2_{t-1}, a_{t-1})
            z2_mean, z2_std = self.z2_posterior(torch.cat([z1, z2, actions[:, t - 1]], dim=-1))
            z2 = z2_mean + torch.randn_like(z2_std) * z2_std
            z1_means.append(z1_mean)
            z1_stds.append(z1_std)
            z1s.append(z1)
            z2s.append(z2)
        return LatentSample(torch.stack(z1s, 1), torch.stack(z2s, 1), torch.stack(z1_means, 1),
                            torch.stack(z1_stds, 1))

    def sample_prior(self, actions: torch.Tensor, z2_post: torch.Tensor | None = None,
                     first: tuple[torch.Tensor, torch.Tensor] | None = None) -> LatentSample:
        """Samples and z1 parameters of the prior, [B, T+1, ...], for actions [B, T, A].

        z2_post [B, T+1, Z2] given (what the loss uses): p(z1_0) = N(0, I) and, for t >= 0,
        p(z1_{t+1} | z2_t, a_t) at the POSTERIOR samples z2_t, all steps at once (one-step
        predictions; z2_{t+1} is drawn from p(z2_{t+1} | z1_{t+1}, z2_t, a_t) at those).
        Otherwise the prior rolled forward on its own samples ("dreaming"), from z1_0 ~ N(0, I), or
        from `first` = (z1_0, z2_0) [B, Z1], [B, Z2] (e.g. the posterior of the first frame)."""
        b, steps = actions.shape[:2]
        zeros = actions.new_zeros(b, 1, self.z1_dim)
        if z2_post is not None:
            assert z2_post.shape == (b, steps + 1, self.z2_dim), f"z2_post {tuple(z2_post.shape)} must be [B, T+1, Z2]"
            # p(z1_{t+1} | z2_t, a_t) for t = 0..T-1 with z2_t from the posterior
            mean, std = self.z1_prior(torch.cat([z2_post[:, :-1], actions], dim=-1))          # [B, T, Z1]
            z1_mean, z1_std = torch.cat([zeros, mean], 1), torch.cat([torch.ones_like(zeros), std], 1)
            z1 = z1_mean + torch.randn_like(z1_std) * z1_std                                    # [B, T+1, Z1]
            z2_mean, z2_std = self.z2_prior(torch.cat([z1[:, 1:], z2_post[:, :-1], actions], dim=-1))
            z2_0_mean, z2_0_std = self.z2_init_prior(z1[:, :1])
            z2 = torch.cat([z2_0_mean, z2_mean], 1) + torch.randn_like(z2_post) * torch.cat([z2_0_std, z2_std], 1)
            return LatentSample(z1, z2, z1_mean, z1_std)
        # p(z1_0) = N(0, I), p(z2_0 | z1_0); or the given first latents
        z1_mean, z1_std = zeros[:, 0], torch.ones_like(zeros[:, 0])
        if first is None:
            z1 = z1_mean + torch.randn_like(z1_std) * z1_std
            z2_mean, z2_std = self.z2_init_prior(z1)
            z2 = z2_mean + torch.randn_like(z2_std) * z2_std
        else:
            z1, z2 = first
        z1_means, z1_stds, z1s, z2s = [z1_mean], [z1_std], [z1], [z2]
        for t in range(1, steps + 1):
            # p(z1_t | z2_{t-1}, a_{t-1}) at the prior's own z2 sample
            z1_mean, z1_std = self.z1_prior(torch.cat([z2, actions[:, t - 1]], dim=-1))
            z1 = z1_mean + torch.randn_like(z1_std) * z1_std
            # p(z2_t | z1_t, z2_{t-1}, a_{t-1})
            z2_mean, z2_std = self.z2_prior(torch.cat([z1, z2, actions[:, t - 1]], dim=-1))
            z2 = z2_mean + torch.randn_like(z2_std) * z2_std
            z1_means.append(z1_mean)
            z1_stds.append(z1_std)
            z1s.append(z1)
            z2s.append(z2)
        return LatentSample(torch.stack(z1s, 1), torch.stack(z2s, 1), torch.stack(z1_means, 1),
                            torch.stack(z1_stds, 1))


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor | float) -> torch.Tensor:
    """log N(x; μ, σ²) element-wise: -(x - μ)² / (2σ²) - log σ - ½ log 2π."""
    if isinstance(std, torch.Tensor):
        return -0.5 * ((x - mean) / std).pow(2) - std.log() - 0.5 * np.log(2 * np.pi)
    # a fixed float σ (the decoder's): Python arithmetic, no tensor made on the device (no host-device copy)
    return -0.5 * ((x - mean) / std).pow(2) - (float(np.log(std)) + 0.5 * float(np.log(2 * np.pi)))


def latent_model_loss(model: SequentialLatentModel, batch: SequenceBatch) -> tuple[torch.Tensor, dict]:
    """The negative ELBO of SLAC's model (Lee et al. 2020: the model part of their joint ELBO; the
    reference code's `compute_loss`):

        -E_q[ Σ_{t=0}^{T} m_t (log p(x_t | z_t) - KL(q(z1_t | ·) || p(z1_t | z2_{t-1}, a_{t-1})))
              + Σ_{t=0}^{T-1} mask_t log p(r_t | z_t, a_t, z_{t+1}) ]

    with z ~ q (sample_posterior), p(z1_0) = N(0, I) at t = 0 and the prior of z1_{t+1} evaluated
    at the POSTERIOR sample z2_t (z2's own KL is 0: q and p share its networks). x_t = obs / 255,
    p(x | z) = N(decoder(z), decoder_std²). m_0 = 1 and m_{t+1} = mask_t: observation t+1 is real iff
    step t is. Summed over time and over latent / pixel dimensions, averaged over the batch, as SLAC does.

    batch: obs [B, T+1, C, H, W] (pixel values 0..255), action [B, T, A], reward [B, T], mask [B, T].
    Returns (loss, info) with detached loss_model, kl, image_nll, reward_nll (each per sequence).
    """
    obs, action, reward, mask = batch.obs, batch.action, batch.reward, batch.mask
    b, t = action.shape[:2]
    assert obs.dim() == 5 and obs.shape[:2] == (b, t + 1), f"obs {tuple(obs.shape)} must be [B, T+1, C, H, W]"
    assert action.shape == (b, t, model.action_dim), f"action {tuple(action.shape)} must be [B, T, {model.action_dim}]"
    assert reward.shape == mask.shape == (b, t), f"reward {tuple(reward.shape)}, mask {tuple(mask.shape)} must be [B, T]"
    obs_mask = torch.cat([mask.new_ones(b, 1), mask], dim=1)                            # [B, T+1]

    post = model.sample_posterior(model.encode(obs), action)                            # [B, T+1, ...]
    prior = model.sample_prior(action, z2_post=post.z2)                                 # p(z1_{t+1} | z2_t^post, a_t)
    kl = diagonal_gaussian_kl(post.z1_mean, post.z1_std.log(), prior.z1_mean, prior.z1_std.log())  # [B, T+1]

    image_mean = model.decoder(post.z)                                                  # [B, T+1, C, H, W]
    image_ll = gaussian_log_prob(obs / 255.0, image_mean, model.decoder_std).flatten(2).sum(-1)     # [B, T+1]

    z = post.z
    r_mean, r_std = model.reward_model(torch.cat([z[:, :-1], action, z[:, 1:]], dim=-1))           # [B, T, 1]
    reward_ll = gaussian_log_prob(reward, r_mean.squeeze(-1), r_std.squeeze(-1))                   # [B, T]

    kl_seq = (obs_mask * kl).sum(1)                                                     # [B]
    image_nll = -(obs_mask * image_ll).sum(1)                                           # [B]
    reward_nll = -(mask * reward_ll).sum(1)                                             # [B]
    loss = (image_nll + kl_seq + reward_nll).mean()                                     # -ELBO, batch mean
    info = {"loss_model": loss.detach(), "kl": kl_seq.mean().detach(), "image_nll": image_nll.mean().detach(),
            "reward_nll": reward_nll.mean().detach()}
    return loss, info


def _to_rgb(frames: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] in pixel units -> uint8 [H, N*W, 3]: one channel as grey, else the last three
    (the newest frame of a channel-stacked observation)."""
    rgb = frames[:, -3:] if frames.shape[1] >= 3 else frames[:, :1].expand(-1, 3, -1, -1)
    strip = rgb.clamp(0, 255).round().to(torch.uint8).permute(2, 0, 3, 1)                # [H, N, W, 3]
    return strip.reshape(rgb.shape[2], -1, 3).cpu().numpy()


@torch.no_grad()
def reconstruction_strip(model: SequentialLatentModel, obs: torch.Tensor, actions: torch.Tensor) -> np.ndarray:
    """One sequence, obs [T+1, C, H, W] (0..255), actions [T, A] -> uint8 [3H, (T+1)W, 3], three rows:
    the real frames; the posterior's reconstructions decoder(z_t), z ~ q; the prior's "dream" from
    the first frame (z_0 from the posterior, then z_{t+1} ~ p(z_{t+1} | z_t, a_t) on its own samples).
    Decoded means are shown, scaled back to 0..255. Save it with any PNG writer."""
    assert obs.dim() == 4 and actions.dim() == 2 and obs.shape[0] == actions.shape[0] + 1, \
        f"obs {tuple(obs.shape)} must be [T+1, C, H, W] and actions {tuple(actions.shape)} [T, A]"
    post = model.sample_posterior(model.encode(obs[None]), actions[None])
    dream = model.sample_prior(actions[None], first=(post.z1[:, 0], post.z2[:, 0]))
    rows = [obs, 255.0 * model.decoder(post.z)[0], 255.0 * model.decoder(dream.z)[0]]
    return np.concatenate([_to_rgb(r) for r in rows], axis=0)
