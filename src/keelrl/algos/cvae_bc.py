"""Conditional-VAE behavior cloning: a latent-variable policy for multimodal demonstrations.

A policy π(a | s) that regresses the mean action (Gaussian BC) averages the modes of the
demonstrations: where half go left of an obstacle and half right, it goes straight into it. A CVAE
policy gives each mode its own region of a latent z (CS285 lecture 18; Sohn et al. 2015):

    encoder   q(z | s, a)                      (training only)
    decoder   p(a | s, z)                      the policy, given z
    prior     p(z) = N(0, I)

trained by maximizing the evidence lower bound on the demonstrations D:

    log p(a | s) >= E_q(z|s,a)[ log p(a | s, z) ] - KL( q(z | s, a) || p(z) )              (ELBO)

With a Gaussian decoder of fixed variance, -log p(a | s, z) is a squared error up to constants, so
the loss is (`cvae_loss`)

    L = E_(s,a)~D [ ‖â(s, z) - a‖²  +  β · KL(N(μ, σ²) || N(0, I)) ],  z = μ + σ ⊙ ε        (1)

the squared error summed over the action's dimensions (and a chunk's steps), as the log-likelihood
sums them, so a longer chunk does not weaken the reconstruction against the KL. β = 0.25 is BCQ's
weighting (Fujimoto et al. 2019: the mean squared error over the A dimensions plus 0.5 × the KL
averaged over its 2A latent dimensions, which is (Σ err + 0.25 Σ KL) / A).

At execution (`latent`) z = 0, the prior's mean, unless sampling is asked for: z ~ N(0, I) drawn
afresh at every step, or once per episode and kept. Where the demonstrations split, the modes lie
on either side of z = 0, so z = 0 may decode to their average; a z drawn per step picks a mode but
may pick the other one at the next step (and temporal ensembling then averages the two); a z kept
for the episode keeps to one mode.

Action chunks (ACT, Zhao et al. 2023): with `chunk` = k > 1 the CVAE models the next k actions
a_{t:t+k} together (masked after an episode's end), and executes them with temporal ensembling or
open loop (nn/action_chunks.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from keelrl.algos.config_checks import check_shared_fields
from keelrl.algos.spec import AlgoSpec, DatasetNeeds, UpdateBranches, named_losses
from keelrl.data.normalization import FixedNormalizer
from keelrl.envs.action_bounds import ActionBounds
from keelrl.envs.spaces import continuous_actions
from keelrl.errors import check
from keelrl.functional import seed_from_torch
from keelrl.nn.action_chunks import ChunkedActor
from keelrl.nn.cvae import ConditionalVAE
from keelrl.nn.vae import gaussian_kl
from keelrl.optim import adam
from keelrl.types import Batch, SequenceBatch, Spaces


@dataclass
class CVAEBCConfig:
    """Conditional-VAE behavior cloning. Defaults: BCQ's generative model (β = 0.25 in Eq. 1's
    sums, latent 2·A, Adam 1e-3) with 256×256 networks; chunks and ensembling as ACT (m = 0.01)."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the encoder and of the decoder."""
    latent_dim: int = 0
    """Size of z; 0: twice the action size (BCQ)."""
    beta: float = 0.25
    """Weight of the KL term of Eq. 1 (against the squared error summed over the action's dimensions and the chunk's steps)."""
    lr: float = 1e-3
    """Adam learning rate."""
    batch_size: int = 256
    """Transitions (or chunks) per gradient update."""
    chunk: int = 1
    """Actions predicted at once, k (ACT's action chunks); 1: one action per step."""
    execution: Literal["ensemble", "open_loop"] = "ensemble"
    """With chunks: `ensemble` predicts a chunk every step and averages the predictions for the step (temporal ensembling); `open_loop` executes each chunk to its end."""
    ensemble_decay: float = 0.01
    """m of the ensembling weights w_i = exp(-m·i), i = 0 the oldest prediction."""
    latent: Literal["zero", "step", "episode"] = "zero"
    """z when acting, also in evaluation: `zero` (the prior's mean), `step` (z ~ N(0, I) drawn at every step) or `episode` (drawn when an episode starts and kept to its end)."""
    normalize_obs: bool = True
    """Standardize states with the dataset's mean and std (+1e-3), also when acting."""

    def __post_init__(self) -> None:
        check_shared_fields(self)
        check(self.latent_dim >= 0, f"latent_dim must be >= 0 (0: twice the action size), got {self.latent_dim}")
        check(self.beta >= 0, f"beta must be >= 0, got {self.beta}")
        check(self.chunk >= 1, f"chunk must be >= 1, got {self.chunk}")
        check(self.execution in ("ensemble", "open_loop"), f"execution must be ensemble or open_loop, got {self.execution!r}")
        check(self.ensemble_decay >= 0, f"ensemble_decay must be >= 0, got {self.ensemble_decay}")
        check(self.latent in ("zero", "step", "episode"), f"latent must be zero, step or episode, got {self.latent!r}")


def cvae_loss(recon: torch.Tensor, action: torch.Tensor, mask: torch.Tensor, mean: torch.Tensor,
              log_std: torch.Tensor, beta: float) -> tuple[torch.Tensor, dict]:
    """Eq. 1: the squared error of the reconstructed actions summed over the unmasked steps and the
    action's dimensions, plus β times the KL to the prior summed over z's dimensions, averaged over
    the batch. recon and action [B, K, A], mask [B, K] (1: a real step), mean and log_std [B, Z]."""
    assert recon.shape == action.shape and recon.dim() == 3, f"recon {tuple(recon.shape)} vs action {tuple(action.shape)}"
    assert mask.shape == action.shape[:2] and mean.shape == log_std.shape and mean.shape[0] == action.shape[0]
    err = (recon - action).pow(2).sum(-1) * mask                                  # [B, K]
    recon_loss = err.sum(1).mean()
    kl = gaussian_kl(mean, log_std).mean()                                       # KL(q(z|s,a) || N(0, I))
    loss = recon_loss + beta * kl
    return loss, {"loss_cvae": loss.detach(), "loss_recon": recon_loss.detach(), "kl": kl.detach()}


LOSSES = {"cvae": cvae_loss}
"""The losses CVAEBCAgent.update calls by name."""


class CVAEBCAgent:
    algo = "cvae_bc"
    metric_names = ("loss_cvae", "loss_recon", "kl")

    def __init__(self, cfg: CVAEBCConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.obs_dim, self.act_dim, self.k = spaces.obs_dim, spaces.act_dim, cfg.chunk
        self.latent_dim = cfg.latent_dim or 2 * self.act_dim
        self.losses = named_losses(LOSSES, losses, "cvae_bc")
        self.vae = ConditionalVAE(self.obs_dim, self.k * self.act_dim, self.latent_dim, cfg.hidden_sizes).to(self.device)
        self.opt = adam(self.vae.parameters(), cfg.lr)
        self.obs_norm = FixedNormalizer(self.obs_dim, self.device)
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, self.device)
        self.chunks = ChunkedActor(self._predict_chunks, self.k, cfg.execution, cfg.ensemble_decay)
        self.latent = cfg.latent
        self.act_generator = torch.Generator(device=self.device)   # the latents drawn when acting
        self.act_generator.manual_seed(seed_from_torch())   # from the run's seed (the loop seeds torch first)
        self.episode_z: torch.Tensor | None = None                  # [N, Z]: latent = episode
        self.num_updates = 0

    # ---- acting
    @torch.no_grad()
    def predict(self, obs: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Normalized states [N, O] and latents [N, Z] (None: z = 0) -> action chunks [N, k, A] in [-1, 1]."""
        z = torch.zeros(obs.shape[0], self.latent_dim, device=self.device) if z is None else z
        return self.vae.decode(obs, z).reshape(-1, self.k, self.act_dim)

    def _draw(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=self.device, generator=self.act_generator)

    def _predict_chunks(self, obs: np.ndarray) -> torch.Tensor:
        n = obs.shape[0]
        if self.latent == "episode" and (self.episode_z is None or self.episode_z.shape[0] != n):
            self.episode_z = self._draw(n)
        z = {"zero": None, "step": self._draw(n) if self.latent == "step" else None, "episode": self.episode_z}[self.latent]
        return self.predict(self.obs_norm(obs), z)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """obs [N, O] -> env-space actions [N, A], z as `latent` says (drawn at every step when not
        deterministic and `latent` is zero); with chunks, this step's action of the remembered chunks."""
        self.latent = "step" if not deterministic and self.cfg.latent == "zero" else self.cfg.latent
        return self.bounds.to_env(self.chunks.act(obs))

    def start_episodes(self, mask: np.ndarray) -> None:
        """The copies in `mask` start new episodes: their earlier chunks no longer apply, and they
        draw a new z (latent = episode)."""
        self.chunks.start_episodes(mask)
        rows = np.flatnonzero(mask)
        if self.episode_z is not None and len(mask) == self.episode_z.shape[0] and len(rows):
            self.episode_z[torch.as_tensor(rows, device=self.device)] = self._draw(len(rows))

    def set_obs_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.obs_norm.set(mean, std)

    # ---- learning
    def update(self, batch: Batch | SequenceBatch) -> dict[str, torch.Tensor]:
        if isinstance(batch, SequenceBatch):       # action chunks: the state of step 0, the next k actions
            obs, action, mask = batch.obs[:, 0], batch.action, batch.mask              # [B, O], [B, k, A], [B, k]
        else:
            obs, action = batch.obs, batch.action.unsqueeze(1)                         # [B, O], [B, 1, A]
            mask = torch.ones(action.shape[:2], device=action.device)
        recon, mean, log_std = self.vae(obs, action.flatten(1))
        loss, info = self.losses["cvae"](recon.reshape(action.shape), action, mask, mean, log_std, self.cfg.beta)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.num_updates += 1
        return info

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(), "vae": self.vae.state_dict(),
                "opt": self.opt.state_dict(), "obs_norm": self.obs_norm.state_dict(), "num_updates": self.num_updates,
                "act_generator": self.act_generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.vae.load_state_dict(state["vae"])
        self.opt.load_state_dict(state["opt"])
        self.obs_norm.load_state_dict(state["obs_norm"])
        self.num_updates = state["num_updates"]
        self.act_generator.set_state(state["act_generator"])


def needs(cfg: CVAEBCConfig) -> DatasetNeeds:
    return DatasetNeeds(cfg.batch_size, normalize_obs=cfg.normalize_obs, sequence_length=cfg.chunk if cfg.chunk > 1 else 0)


SPEC = AlgoSpec("cvae_bc", CVAEBCConfig, CVAEBCAgent,
                "Conditional-VAE behavior cloning (offline; multimodal demonstrations, optional action chunks)",
                "dataset", continuous_actions, needs,
                branches=lambda cfg: UpdateBranches(not_capturable="action chunks are SequenceBatches, which CUDA-graph "
                                                                   "capture does not take" if cfg.chunk > 1 else None))
