"""Advantage-Weighted Actor-Critic (Nair, Gupta, Dalal & Levine 2020, "AWAC: Accelerating Online
Reinforcement Learning with Offline Datasets"), trained offline.

A critic of the current policy, and a policy fitted to the dataset's actions weighted by their
exponentiated advantage (the closed-form solution of a KL-constrained improvement step):

    critic loss   E_D[ (Q_i(s, a) - y)² ],  y = r + γ (1 - d) min_i Q̄_i(s', a'),  a' ~ π(·|s')      (Eq. 8)
    advantage     A(s, a) = Q(s, a) - V(s),  V(s) = Q(s, a_π), a_π ~ π(·|s),  Q = min_i Q_i
    policy loss   -E_(s,a)~D[ log π(a|s) · min( exp(A(s, a) / λ), 100 ) ]                           (Eq. 12)

Defaults are CORL's AWAC (3×256 networks, Adam 3e-4, τ = 0.005, weights clipped at 100) with the
paper's λ = 1; CORL uses λ = 1/3 on the MuJoCo tasks (the hopper preset).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from keelrl.algos.iql import awr_weights, iql_actor_loss
from keelrl.algos.spec import AlgoSpec, DatasetNeeds, named_losses
from keelrl.envs.spaces import continuous_actions
from keelrl.data.normalization import FixedNormalizer
from keelrl.envs.action_bounds import ActionBounds
from keelrl.algos.config_checks import check_shared_fields
from keelrl.errors import check
from keelrl.functional import soft_update, td_target
from keelrl.nn.actors import GaussianActor
from keelrl.nn.ensemble import EnsembleCritic
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


@dataclass
class AWACConfig:
    """AWAC offline. Defaults are CORL's, with the paper's λ = 1."""

    hidden_sizes: tuple[int, ...] = (256, 256, 256)
    """Hidden layer widths of the actor and of each critic."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    batch_size: int = 256
    """Transitions per gradient update."""
    gamma: float = 0.99
    """Discount factor γ."""
    tau: float = 0.005
    """Polyak coefficient of the target critics."""
    awac_lambda: float = 1.0
    """λ, the temperature of the advantage weights exp(A / λ) (the KL constraint's multiplier)."""
    exp_adv_max: float = 100.0
    """Upper clip of the advantage weights."""
    normalize_obs: bool = True
    """Standardize states with the dataset's mean and std (+1e-3), also when acting."""
    log_std_min: float = -20.0
    """Lower clamp of the policy's state-independent log σ."""
    log_std_max: float = 2.0
    """Upper clamp of the policy's log σ."""

    def __post_init__(self) -> None:
        check_shared_fields(self)
        check(self.awac_lambda > 0, f"awac_lambda must be > 0, got {self.awac_lambda}")
        check(self.exp_adv_max > 0, f"exp_adv_max must be > 0, got {self.exp_adv_max}")


# CORL's per-task settings (configs/offline/awac/<task>/<dataset>_v2.yaml); other fields keep the defaults.
PRESETS: dict[str, dict] = {
    "hopper-medium": {"awac_lambda": 1 / 3},
    "hopper-medium-replay": {"awac_lambda": 1 / 3},
    "halfcheetah-medium": {"awac_lambda": 1 / 3},
}


def awac_critic_loss(q: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Σ_i E[ (Q_i(s, a) - y)² ]  (Eq. 8). q [N, B]; target [B], no gradient."""
    assert q.dim() == 2 and target.shape == q.shape[1:], f"shapes: q {tuple(q.shape)}, target {tuple(target.shape)}"
    loss = (q - target).pow(2).mean(1).sum()
    return loss, {"loss_q": loss.detach(), "q_mean": q.detach().mean()}


LOSSES = {"critic": awac_critic_loss, "actor": iql_actor_loss}
"""The losses AWACAgent.update calls by name."""


class AWACAgent:
    algo = "awac"
    metric_names = ("loss_q", "q_mean", "loss_pi", "weight_mean")

    def __init__(self, cfg: AWACConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        obs_dim, act_dim = spaces.obs_dim, spaces.act_dim
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.losses = named_losses(LOSSES, losses, "awac")
        d = self.device
        self.actor = GaussianActor(obs_dim, act_dim, cfg.hidden_sizes, cfg.log_std_min, cfg.log_std_max).to(d)
        self.critic = EnsembleCritic(2, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic_target = EnsembleCritic(2, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.critic_lr)
        self.obs_norm = FixedNormalizer(obs_dim, d)
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, d)
        self.num_updates = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        dist = self.actor(self.obs_norm(obs))
        return self.bounds.to_env(dist.mean if deterministic else dist.sample().clamp(-1.0, 1.0))

    def set_obs_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.obs_norm.set(mean, std)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        with torch.no_grad():
            next_a = self.actor(batch.next_obs).sample().clamp(-1.0, 1.0)
            y = td_target(batch.reward, batch.terminated, self.critic_target(batch.next_obs, next_a).min(0).values, cfg.gamma)
        loss_q, info = self.losses["critic"](self.critic(batch.obs, batch.action), y)
        self.critic_opt.zero_grad(set_to_none=True)
        loss_q.backward()
        self.critic_opt.step()

        with torch.no_grad():
            pi_a = self.actor(batch.obs).sample().clamp(-1.0, 1.0)
            advantage = self.critic(batch.obs, batch.action).min(0).values - self.critic(batch.obs, pi_a).min(0).values
        dist = self.actor(batch.obs)
        loss_pi, info_pi = self.losses["actor"](dist.log_prob(batch.action).sum(-1),
                                                awr_weights(advantage, 1.0 / cfg.awac_lambda, cfg.exp_adv_max))
        self.actor_opt.zero_grad(set_to_none=True)
        loss_pi.backward()
        self.actor_opt.step()

        soft_update(self.critic_target.parameters(), self.critic.parameters(), cfg.tau)
        self.num_updates += 1
        return {**info, **info_pi}

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                **{k: getattr(self, k).state_dict() for k in
                   ("actor", "critic", "critic_target", "actor_opt", "critic_opt", "obs_norm")},
                "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        for k in ("actor", "critic", "critic_target", "actor_opt", "critic_opt", "obs_norm"):
            getattr(self, k).load_state_dict(state[k])
        self.num_updates = state["num_updates"]


def needs(cfg: AWACConfig) -> DatasetNeeds:
    return DatasetNeeds(cfg.batch_size, normalize_obs=cfg.normalize_obs)


SPEC = AlgoSpec("awac", AWACConfig, AWACAgent, "Advantage-Weighted Actor-Critic (offline)", "dataset",
                continuous_actions, needs, presets=PRESETS)
