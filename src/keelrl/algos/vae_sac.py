"""VAE-SAC: a variational autoencoder learns a state representation z of the pixel observations,
and SAC learns on z instead of the pixels (CS285 lecture 18, "representation learning with VAEs";
the representation half of Yarats et al. 2019's SAC+VAE baseline, here with the encoder not
trained by the critic).

    encoder    q_φ(z | o) = N(μ_φ(o), diag σ_φ(o)²)          ConvEncoder's convolutions, then a GaussianHead
    decoder    p_ψ(o | z) = N(D_ψ(z), σ_x² I)                ConvDecoder; σ_x fixed (`pixel_std`, in [0, 1] units)
    VAE loss   L(φ, ψ) = E_o [ ‖D_ψ(z) - o‖² / (2 σ_x²) + β KL(q_φ(z|o) || N(0, I)) ],  z = μ + σ ⊙ ε    (1)
    RL state   s = μ_φ(o), with no gradient: SAC (algos/sac.py, every option) learns on s, s'

The VAE has its own optimizer and schedule, the loop's side update (`Transitions.side_updates`):
`vae_pretrain` updates on the observations of the random warm-up when it ends (a dataset of prior
observations, as the lecture's first option), then `vae_updates` every `vae_every` environment
steps alongside RL (its second option; `vae_every = 0` freezes the representation after the
pre-training).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal

import numpy as np
import torch
from torch import nn

from keelrl.algos.config_checks import check_shared_fields
from keelrl.algos.sac import SACAgent, SACConfig
from keelrl.algos.spec import AlgoSpec, SideUpdate, Transitions, named_losses
from keelrl.envs.spaces import pixels_continuous_actions
from keelrl.errors import check
from keelrl.functional import seed_from_torch
from keelrl.nn.pixel_encoder import ConvDecoder, ConvEncoder
from keelrl.nn.vae import GaussianHead, gaussian_kl, reparameterize
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


@dataclass
class VAESACConfig:
    """SAC on the latent of a pixel VAE. SAC's fields are SAC's (algos/sac.py: the paper's defaults,
    with a 100k-frame replay and 1000 warm-up steps); the VAE's are SAC-AE's encoder sizes."""

    latent_dim: int = 50
    """Size of z, the state SAC learns on."""
    encoder_layers: int = 4
    """3x3 convolutions of the encoder (and transposed ones of the decoder)."""
    encoder_filters: int = 32
    """Channels of each convolution."""
    beta: float = 1.0
    """Weight of the KL term of Eq. 1."""
    pixel_std: float = 0.1
    """σ_x of the Gaussian decoder, in units of the frame's range [0, 1]."""
    vae_lr: float = 1e-3
    """Adam learning rate of the VAE."""
    vae_batch_size: int = 128
    """Frames per VAE update."""
    vae_pretrain: int = 1000
    """VAE updates on the warm-up's observations when it ends, before SAC's first update."""
    vae_every: int = 1
    """Then `vae_updates` VAE updates every this many environment steps (0: frozen after pre-training)."""
    vae_updates: int = 1
    """VAE updates each time (see vae_every)."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """SAC: hidden widths of the actor and the critics."""
    actor_lr: float = 3e-4
    """SAC: Adam learning rate of the policy."""
    critic_lr: float = 3e-4
    """SAC: Adam learning rate of the critics."""
    alpha_lr: float = 3e-4
    """SAC: Adam learning rate of log α."""
    batch_size: int = 256
    """SAC: transitions per update."""
    buffer_size: int = 100_000
    """Replay capacity, in frames (each stored once)."""
    gamma: float = 0.99
    """SAC: discount γ."""
    learning_starts: int = 1000
    """Environment steps of uniform random actions before the first update (and the VAE's pre-training)."""
    updates_per_step: float = 1.0
    """SAC updates per environment step."""
    tau: float = 0.005
    """SAC: Polyak coefficient of the target critics."""
    alpha: float = 1.0
    """SAC: initial temperature α (learned)."""

    def __post_init__(self) -> None:
        check_shared_fields(self)
        for name in ("latent_dim", "encoder_layers", "encoder_filters", "vae_batch_size", "vae_updates"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("vae_pretrain", "vae_every"):
            check(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        check(self.beta >= 0 and self.pixel_std > 0, f"beta must be >= 0 and pixel_std > 0, got {self.beta}, {self.pixel_std}")
        check(self.vae_lr > 0, f"vae_lr must be > 0, got {self.vae_lr}")
        check(self.vae_pretrain > 0 or self.vae_every > 0, "the VAE must be trained: vae_pretrain > 0 or vae_every > 0")
        self.sac_config()   # SAC's own checks of the fields it takes

    def sac_config(self) -> SACConfig:
        """SAC's Config: the fields the two share, SAC's defaults for the rest."""
        return SACConfig(**{f.name: getattr(self, f.name) for f in fields(SACConfig) if hasattr(self, f.name)})


def pixel_vae_loss(recon: torch.Tensor, obs: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor,
                   beta: float, pixel_std: float) -> tuple[torch.Tensor, dict]:
    """Eq. 1: the Gaussian decoder's negative log-likelihood (without its constant), summed over the
    pixels, plus β KL(q(z|o) || N(0, I)), averaged over the batch. recon and obs [B, C, H, W] in pixel
    values 0..255 (compared in [0, 1] units); mean, log_std [B, Z]."""
    assert recon.shape == obs.shape and recon.dim() == 4, f"recon {tuple(recon.shape)} vs obs {tuple(obs.shape)}"
    assert mean.shape == log_std.shape and mean.shape[0] == obs.shape[0]
    nll = ((recon - obs) / 255.0).pow(2).flatten(1).sum(1) / (2 * pixel_std ** 2)   # [B]
    kl = gaussian_kl(mean, log_std)                                                 # [B]
    loss = (nll + beta * kl).mean()
    return loss, {"loss_vae": loss.detach(), "recon_nll": nll.detach().mean(), "kl": kl.detach().mean()}


LOSSES = {"vae": pixel_vae_loss}


class PixelVAE(nn.Module):
    """q(z|o) by ConvEncoder's convolutions and a GaussianHead; p(o|z)'s mean by a ConvDecoder."""

    def __init__(self, channels: int, size: int, latent_dim: int, layers: int, filters: int) -> None:
        super().__init__()
        self.convs = ConvEncoder(channels, size, latent_dim, layers, filters)
        self.head = GaussianHead(self.convs.flat_dim, latent_dim)
        self.decoder = ConvDecoder(channels, size, latent_dim, layers, filters)

    def encode(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, C, H, W] pixel values -> (μ, log σ) [B, Z]."""
        return self.head(self.convs.conv_features(obs))


class VAESACAgent:
    algo = "vae_sac"
    metric_names = ("loss_q", "q_mean", "loss_pi", "entropy", "loss_alpha", "alpha", "loss_vae", "recon_nll", "kl")

    def __init__(self, cfg: VAESACConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.losses = named_losses(LOSSES, losses, self.algo)
        c, h, _ = spaces.observation.shape
        self.vae = PixelVAE(c, h, cfg.latent_dim, cfg.encoder_layers, cfg.encoder_filters).to(self.device)
        self.vae_opt = adam(self.vae.parameters(), cfg.vae_lr)
        self.sac = SACAgent(cfg.sac_config(), Spaces.box(cfg.latent_dim, spaces.action_low, spaces.action_high), self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed_from_torch())   # from the run's seed (the loop seeds torch first)
        self.vae_updates = 0
        self._last_vae = {k: torch.zeros((), device=self.device) for k in ("loss_vae", "recon_nll", "kl")}

    @torch.no_grad()
    def state(self, obs: torch.Tensor) -> torch.Tensor:
        """The RL state s = μ(o) [B, Z]: no gradient reaches the VAE from RL."""
        return self.vae.encode(obs)[0]

    @property
    def num_updates(self) -> int:
        """Updates of the actor-critic (what the loop reports)."""
        return self.sac.num_updates

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return self.sac.act(self.state(torch.as_tensor(np.asarray(obs), device=self.device).float()), deterministic)

    def explore(self, obs: np.ndarray, step: int) -> np.ndarray:
        return self.act(obs)

    def to_policy_space(self, env_action: np.ndarray) -> np.ndarray:
        return self.sac.to_policy_space(env_action)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One SAC update on the latent states of the batch's observations."""
        latent = Batch(self.state(batch.obs), batch.action, batch.reward, self.state(batch.next_obs), batch.terminated)
        return {**self.sac.update(latent), **self._last_vae}

    def update_representation(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One Adam step of the VAE on Eq. 1 over the batch's observations (the loop's side update)."""
        mean, log_std = self.vae.encode(batch.obs)
        recon = self.vae.decoder(reparameterize(mean, log_std, self.generator))
        loss, info = self.losses["vae"](recon, batch.obs, mean, log_std, self.cfg.beta, self.cfg.pixel_std)
        self.vae_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.vae_opt.step()
        self.vae_updates += 1
        self._last_vae = info
        return info

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(), "vae": self.vae.state_dict(),
                "vae_opt": self.vae_opt.state_dict(), "sac": self.sac.state_dict(), "vae_updates": self.vae_updates,
                "generator": self.generator.get_state(), "last_vae": {k: v.cpu() for k, v in self._last_vae.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.vae.load_state_dict(state["vae"])
        self.vae_opt.load_state_dict(state["vae_opt"])
        self.sac.load_state_dict(state["sac"])
        self.vae_updates = state["vae_updates"]
        self.generator.set_state(state["generator"])
        self._last_vae = {k: v.to(self.device) for k, v in state["last_vae"].items()}


def needs(cfg: VAESACConfig) -> Transitions:
    vae = SideUpdate("update_representation", cfg.vae_batch_size, cfg.vae_pretrain, cfg.vae_every, cfg.vae_updates)
    return Transitions(cfg.batch_size, cfg.buffer_size, cfg.learning_starts, cfg.updates_per_step, side_updates=(vae,))


SPEC = AlgoSpec("vae_sac", VAESACConfig, VAESACAgent,
                "SAC on the latent state of a pixel VAE (pre-trained on prior observations and/or learned alongside)",
                "transitions", pixels_continuous_actions, needs)
