"""Behavior cloning: supervised regression of the dataset's actions on its states.

    deterministic   J(π) = E_(s,a)~D[ ‖π(s) - a‖² ]             (the BC baseline of TD3+BC and CORL)
    gaussian        J(π) = -E_(s,a)~D[ log π(a|s) ]              (maximum likelihood, tanh-Gaussian π)

Defaults are CORL's BC (256×256, Adam 3e-4, batch 256, state normalization) trained on all of the
data (CORL's `frac = 1.0` configs; "10%-BC" would first keep the best episodes).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from keelrl.algos.spec import AlgoSpec, DatasetNeeds, named_losses
from keelrl.data.normalization import FixedNormalizer
from keelrl.envs.spaces import continuous_actions
from keelrl.envs.action_bounds import ActionBounds
from keelrl.algos.config_checks import check_shared_fields
from keelrl.errors import check
from keelrl.nn.actors import DeterministicActor, TanhGaussianActor
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


@dataclass
class BCConfig:
    """Behavior cloning. Defaults are CORL's any-percent BC with the whole dataset."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the policy."""
    lr: float = 3e-4
    """Adam learning rate."""
    batch_size: int = 256
    """Transitions per gradient update."""
    actor: Literal["deterministic", "gaussian"] = "deterministic"
    """`deterministic`: π(s) = tanh(f(s)) regressed with the squared error; `gaussian`: a tanh-Gaussian fitted by maximum likelihood (evaluated at tanh μ)."""
    normalize_obs: bool = True
    """Standardize states with the dataset's mean and std (+1e-3), also when acting."""
    log_std_min: float = -20.0
    """Lower clamp of log σ (gaussian policy)."""
    log_std_max: float = 2.0
    """Upper clamp of log σ (gaussian policy)."""

    def __post_init__(self) -> None:
        check_shared_fields(self)
        check(self.actor in ("deterministic", "gaussian"), f"actor must be deterministic or gaussian, got {self.actor!r}")


def bc_mse_loss(pi_action: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """E[‖π(s) - a‖²] averaged over the batch and the action dimensions (as torch's mse_loss). [B, A] each."""
    assert pi_action.shape == action.shape and action.dim() == 2, f"shapes: {tuple(pi_action.shape)} vs {tuple(action.shape)}"
    loss = (pi_action - action).pow(2).mean()
    return loss, {"loss_bc": loss.detach()}


def bc_nll_loss(log_prob: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """-E[log π(a|s)] over dataset pairs. log_prob [B]."""
    assert log_prob.dim() == 1, f"log_prob must be [B], got {tuple(log_prob.shape)}"
    loss = -log_prob.mean()
    return loss, {"loss_bc": loss.detach()}


LOSSES = {"mse": bc_mse_loss, "nll": bc_nll_loss}
"""The losses BCAgent.update calls by name (deterministic policy: mse; gaussian: nll)."""


class BCAgent:
    algo = "bc"
    metric_names = ("loss_bc",)

    def __init__(self, cfg: BCConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        obs_dim, act_dim = spaces.obs_dim, spaces.act_dim
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.losses = named_losses(LOSSES, losses, "bc")
        if cfg.actor == "deterministic":
            self.actor = DeterministicActor(obs_dim, act_dim, cfg.hidden_sizes).to(self.device)
        else:
            self.actor = TanhGaussianActor(obs_dim, act_dim, cfg.hidden_sizes, cfg.log_std_min, cfg.log_std_max).to(self.device)
        self.opt = adam(self.actor.parameters(), cfg.lr)
        self.obs_norm = FixedNormalizer(obs_dim, self.device)
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, self.device)
        self.num_updates = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """obs [N, O] -> env-space actions [N, A] (a sample of the Gaussian policy when not deterministic)."""
        out = self.actor(self.obs_norm(obs))
        if self.cfg.actor == "deterministic":
            return self.bounds.to_env(out)
        return self.bounds.to_env(out.mode if deterministic else out.rsample()[0])

    def set_obs_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.obs_norm.set(mean, std)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        if self.cfg.actor == "deterministic":
            loss, info = self.losses["mse"](self.actor(batch.obs), batch.action)
        else:
            loss, info = self.losses["nll"](self.actor(batch.obs).log_prob(batch.action))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.num_updates += 1
        return info

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(), "actor": self.actor.state_dict(),
                "opt": self.opt.state_dict(), "obs_norm": self.obs_norm.state_dict(), "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.opt.load_state_dict(state["opt"])
        self.obs_norm.load_state_dict(state["obs_norm"])
        self.num_updates = state["num_updates"]


def needs(cfg: BCConfig) -> DatasetNeeds:
    return DatasetNeeds(cfg.batch_size, normalize_obs=cfg.normalize_obs)


SPEC = AlgoSpec("bc", BCConfig, BCAgent, "Behavior cloning (offline, deterministic or Gaussian)", "dataset",
                continuous_actions, needs, renamed={"policy": "actor"})   # `policy` until keelrl 0.1, as IQL names it
