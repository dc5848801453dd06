"""SAC-N (An, Moon, Kim & Song 2021, "Uncertainty-Based Offline RL with Diversified Q-Ensemble").

SAC with N critics and the minimum over all N in both the target and the actor: with N large, the
min is a lower confidence bound that penalizes actions the data does not cover, with no explicit
behavior term:

    target       y = r + γ (1 - d) ( min_{j=1..N} Q̄_j(s', a') - α log π(a'|s') ),  a' ~ π(·|s')   (Eq. 3)
    critic loss  Σ_j E_D[ (Q_j(s, a) - y)² ]
    actor loss   E_s E_{a~π}[ α log π(a|s) - min_j Q_j(s, a) ]                                      (Eq. 4)

The N critics are one vectorized ensemble (one batched matmul per layer). Defaults are CORL's: 3×256
networks, the reference code's initialization (biases 0.1, output layer ±3e-3), Adam 3e-4 for
actor, critics and α, log σ in [-5, 2], update order α, actor, critics, targets. The paper tunes N
per task (hopper-medium 500, medium-replay 200; halfcheetah 10): see the presets.

`SACNAgent` also runs EDAC: it takes an optional penalty added to the critic loss (algos/edac.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from keelrl.algos.sac import actor_loss_reparametrized, soft_q_target, temperature_loss
from keelrl.algos.spec import AlgoSpec, DatasetNeeds, named_losses
from keelrl.envs.spaces import continuous_actions
from keelrl.data.normalization import FixedNormalizer
from keelrl.envs.action_bounds import ActionBounds
from keelrl.algos.config_checks import check_shared_fields
from keelrl.errors import check
from keelrl.functional import soft_update
from keelrl.nn.actors import TanhGaussianActor
from keelrl.nn.ensemble import EnsembleCritic, edac_init_
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


@dataclass
class SACNConfig:
    """SAC-N. Defaults are CORL's (An et al. 2021's code settings), with N = 10."""

    hidden_sizes: tuple[int, ...] = (256, 256, 256)
    """Hidden layer widths of the actor and of each critic."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    alpha_lr: float = 3e-4
    """Adam learning rate of log α."""
    batch_size: int = 256
    """Transitions per gradient update."""
    gamma: float = 0.99
    """Discount factor γ."""
    tau: float = 0.005
    """Polyak coefficient of the target critics."""
    num_critics: int = 10
    """N, the critics in the ensemble; the target and the actor use the minimum over all of them."""
    normalize_obs: bool = False
    """Standardize states with the dataset's mean and std (off in the paper)."""
    log_std_min: float = -5.0
    """Lower clamp of the policy's log σ."""
    log_std_max: float = 2.0
    """Upper clamp of the policy's log σ."""

    def __post_init__(self) -> None:
        validate_sac_n(self)

# The paper's ensemble sizes, as CORL's configs (configs/offline/sac_n/<task>/<dataset>_v2.yaml).
PRESETS: dict[str, dict] = {
    "hopper-medium": {"num_critics": 500},
    "hopper-medium-replay": {"num_critics": 200},
    "halfcheetah-medium": {"num_critics": 10},
}


def validate_sac_n(cfg) -> None:
    """The checks SACNConfig and EDACConfig share (same field names, same meaning)."""
    check_shared_fields(cfg)
    check(cfg.num_critics >= 2, f"num_critics must be >= 2 (the minimum over an ensemble), got {cfg.num_critics}")


def ensemble_critic_loss(q: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Σ_j E[ (Q_j(s, a) - y)² ]. q [N, B]; target [1, B], no gradient."""
    assert q.dim() == 2 and target.shape[-1] == q.shape[1], f"shapes: q {tuple(q.shape)}, target {tuple(target.shape)}"
    loss = (q - target).pow(2).mean(1).sum()
    return loss, {"loss_q": loss.detach(), "q_mean": q.detach().mean(), "q_std": q.detach().std(0).mean()}


CriticPenalty = Callable[[EnsembleCritic, Batch], tuple[torch.Tensor, dict]]


LOSSES = {"critic": ensemble_critic_loss, "actor": actor_loss_reparametrized, "temperature": temperature_loss}
"""The losses SACNAgent.update calls by name."""


class SACNAgent:
    algo = "sac_n"
    metric_names = ("loss_q", "q_mean", "q_std", "loss_pi", "entropy", "loss_alpha", "alpha")

    def __init__(self, cfg: SACNConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None, critic_penalty: CriticPenalty | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        obs_dim, act_dim = spaces.obs_dim, spaces.act_dim
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.losses = named_losses(LOSSES, losses, "sac_n")
        d = self.device
        self.actor = TanhGaussianActor(obs_dim, act_dim, cfg.hidden_sizes, cfg.log_std_min, cfg.log_std_max).to(d)
        self.critic = EnsembleCritic(cfg.num_critics, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        edac_init_(self.critic.net)
        self.critic_target = EnsembleCritic(cfg.num_critics, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.log_alpha = torch.zeros((), device=d, requires_grad=True)
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.critic_lr)
        self.alpha_opt = adam([self.log_alpha], cfg.alpha_lr)
        self.critic_penalty = critic_penalty
        self.obs_norm = FixedNormalizer(obs_dim, d)
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, d)
        self.num_updates = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        dist = self.actor(self.obs_norm(obs))
        return self.bounds.to_env(dist.mode if deterministic else dist.rsample()[0])

    def set_obs_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.obs_norm.set(mean, std)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        # Temperature and actor on the current critics (the reference code's order).
        dist = self.actor(batch.obs)
        a, logp, _ = dist.rsample((1,))
        loss_alpha, info = self.losses["temperature"](self.log_alpha, logp, -float(self.act_dim))
        self.alpha_opt.zero_grad(set_to_none=True)
        loss_alpha.backward()
        self.alpha_opt.step()
        alpha = self.log_alpha.detach().exp()

        self.critic.requires_grad_(False)
        loss_pi, info_pi = self.losses["actor"](self.critic(batch.obs, a[0]).min(0).values.unsqueeze(0), logp, alpha)
        self.actor_opt.zero_grad(set_to_none=True)
        loss_pi.backward()
        self.actor_opt.step()
        self.critic.requires_grad_(True)

        # Critics.
        with torch.no_grad():
            next_a, next_logp, _ = self.actor(batch.next_obs).rsample((1,))
            q_next = self.critic_target(batch.next_obs, next_a[0]).min(0).values             # [B]
            y = soft_q_target(batch.reward, batch.terminated, q_next.view(1, 1, -1), next_logp, alpha, cfg.gamma, True)
        loss_q, info_q = self.losses["critic"](self.critic(batch.obs, batch.action), y)
        if self.critic_penalty is not None:
            penalty, info_penalty = self.critic_penalty(self.critic, batch)
            loss_q = loss_q + penalty
            info_q.update(info_penalty)
        self.critic_opt.zero_grad(set_to_none=True)
        loss_q.backward()
        self.critic_opt.step()

        soft_update(self.critic_target.parameters(), self.critic.parameters(), cfg.tau)
        self.num_updates += 1
        return {**info, **info_pi, **info_q}

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                **{k: getattr(self, k).state_dict() for k in
                   ("actor", "critic", "critic_target", "actor_opt", "critic_opt", "alpha_opt", "obs_norm")},
                "log_alpha": self.log_alpha.detach().cpu(), "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        for k in ("actor", "critic", "critic_target", "actor_opt", "critic_opt", "alpha_opt", "obs_norm"):
            getattr(self, k).load_state_dict(state[k])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.num_updates = state["num_updates"]


def needs(cfg) -> DatasetNeeds:
    """What the offline loop needs of SAC-N's and EDAC's Configs (the same fields)."""
    return DatasetNeeds(cfg.batch_size, normalize_obs=cfg.normalize_obs)


SPEC = AlgoSpec("sac_n", SACNConfig, SACNAgent, "SAC-N: SAC with N critics (offline)", "dataset", continuous_actions,
                needs, presets=PRESETS)
