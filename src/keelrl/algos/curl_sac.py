"""CURL: contrastive unsupervised representations for RL (Srinivas, Laskin & Abbeel 2020): SAC from
pixels (algos/pixel_sac.py) whose encoder also learns, from the same batches, to tell two random
crops of one observation apart from the crops of the others.

    anchors    q = f_ξ(aug(o))                   the query encoder: the critic's encoder
    positives  k = f_ξ̄(aug'(o))                  the key encoder: its momentum (target) encoder, no gradient
    logits     l_ij = q_i^T W k_j - max_j (q_i^T W k_j)      a learned bilinear similarity (Eq. 4)
    loss       InfoNCE: -1/B Σ_i log( exp l_ii / Σ_j exp l_ij )            (Eq. 5; functional.info_nce_loss)

The contrastive loss trains the encoder and W with their own optimizer (`encoder_lr`), every update,
beside the critic loss; SAC's losses and schedule are PixelSAC's, with the augmentation on.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from keelrl.algos.pixel_sac import PixelSACAgent, PixelSACConfig, branches
from keelrl.algos.spec import AlgoSpec, Transitions, named_losses
from keelrl.data.augment import random_shift
from keelrl.envs.spaces import pixels_continuous_actions
from keelrl.errors import check
from keelrl.functional import info_nce_loss, seed_from_torch
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


@dataclass
class CURLSACConfig(PixelSACConfig):
    """CURL on SAC from pixels: PixelSAC's fields (SAC-AE/CURL defaults, with the random shift on),
    plus the contrastive loss's learning rate. (A dataclass extending PixelSACConfig's fields: the
    Config stays flat, every field a flag.)"""

    augment: Literal["none", "shift"] = "shift"
    """Image augmentation of every update's o and o' (`shift`: pad 4, random crop back; `none`)."""
    encoder_lr: float = 1e-3
    """Adam learning rate of the encoder and W on the contrastive loss."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.encoder_lr > 0, f"encoder_lr must be > 0, got {self.encoder_lr}")


def curl_logits(query: torch.Tensor, key: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Eq. 4: l = q W k^T [B, B], each row shifted by its maximum (for a stable softmax; the loss is
    unchanged). query, key [B, F]; w [F, F]."""
    assert query.shape == key.shape and w.shape == (query.shape[1], query.shape[1]), \
        f"shapes: q {tuple(query.shape)}, k {tuple(key.shape)}, W {tuple(w.shape)}"
    logits = query @ w @ key.T                                  # [B, B]
    return logits - logits.max(1, keepdim=True).values.detach()


LOSSES = {"contrastive": info_nce_loss}


class CURLSACAgent:
    algo = "curl_sac"
    metric_names = PixelSACAgent.metric_names + ("loss_contrastive", "contrastive_accuracy")

    def __init__(self, cfg: CURLSACConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.losses = named_losses(LOSSES, losses, self.algo)
        self.sac = PixelSACAgent(cfg, spaces, device)
        f = cfg.feature_dim
        self.w = torch.nn.Parameter(torch.rand(f, f, device=self.device))       # CURL initializes W uniformly
        self.contrastive_opt = adam([*self.sac.encoder.parameters(), self.w], cfg.encoder_lr)
        self.crops = torch.Generator(device=self.device)
        self.crops.manual_seed(seed_from_torch())   # from the run's seed (the loop seeds torch first)

    @property
    def num_updates(self) -> int:
        """Updates of the actor-critic (what the loop reports)."""
        return self.sac.num_updates

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return self.sac.act(obs, deterministic)

    def explore(self, obs: np.ndarray, step: int) -> np.ndarray:
        return self.sac.explore(obs, step)

    def to_policy_space(self, env_action: np.ndarray) -> np.ndarray:
        return self.sac.to_policy_space(env_action)

    def contrastive_step(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        """InfoNCE between two augmentations of each observation: one Adam step of the encoder and W."""
        query = self.sac.encoder(random_shift(obs, 4, self.crops))                # [B, F]
        with torch.no_grad():
            key = self.sac.encoder_target(random_shift(obs, 4, self.crops))       # [B, F]
        loss, info = self.losses["contrastive"](curl_logits(query, key, self.w))
        self.contrastive_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.contrastive_opt.step()
        return info

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        return {**self.sac.update(batch), **self.contrastive_step(batch.obs)}

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(), "sac": self.sac.state_dict(),
                "w": self.w.detach().cpu(), "contrastive_opt": self.contrastive_opt.state_dict(),
                "crops": self.crops.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.sac.load_state_dict(state["sac"])
        with torch.no_grad():
            self.w.copy_(state["w"])
        self.contrastive_opt.load_state_dict(state["contrastive_opt"])
        self.crops.set_state(state["crops"])


def needs(cfg: CURLSACConfig) -> Transitions:
    return Transitions(cfg.batch_size, cfg.buffer_size, cfg.learning_starts, cfg.updates_per_step)


SPEC = AlgoSpec("curl_sac", CURLSACConfig, CURLSACAgent,
                "CURL: SAC from pixels with a contrastive (InfoNCE) loss on the encoder", "transitions",
                pixels_continuous_actions, needs, branches=branches)
