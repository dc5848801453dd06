"""Conservative Q-Learning (Kumar, Zhou, Tucker & Levine 2020), the CQL(H) variant on SAC.

SAC's critic regression plus a penalty that pushes Q down on actions the policy might pick and up
on the dataset's actions, so that the learned Q lower-bounds the policy's value:

    critic loss   Σ_i  α_cql · ( E_s[ log Σ_a exp Q_i(s, a) ] - E_(s,a)~D[ Q_i(s, a) ] )
                       + E[ (Q_i(s, a) - y)² ]                                                      (Eq. 4, CQL(H))
    logsumexp     estimated with importance weights from n uniform actions (density 0.5^-A on
                  [-1, 1]^A) and n actions each of π(·|s) and π(·|s'):                          (Appendix F)
                    log Σ_a exp Q(s, a) ≈ logsumexp_j [ Q(s, a_j) - log μ(a_j) ] (up to a constant)
    Lagrange      α' ← max_α' min_Q  α' · ( α_cql · (gap_i - τ) ),  gap_i the bracket above,
                  when `lagrange` is on: α' ≥ 0 grows while the gap exceeds the target τ        (Eq. 30)
    actor, α      SAC's (min over the critics; learned temperature against -|A|).

Defaults are CORL's Gym-MuJoCo settings (which follow the authors' code): 3×256 networks with
orthogonal critic initialization, policy lr 3e-5, critic lr 3e-4, α_cql = 10, n = 10, importance
sampling on, no entropy term in the backup, no Lagrange. The Bellman term is the plain squared
error, as in the authors' code (the paper writes ½): it sets α_cql's scale.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from keelrl.algos.sac import actor_loss_reparametrized, soft_q_target, temperature_loss
from keelrl.algos.spec import AlgoSpec, DatasetNeeds, named_losses
from keelrl.data.normalization import FixedNormalizer
from keelrl.envs.spaces import continuous_actions
from keelrl.envs.action_bounds import ActionBounds
from keelrl.algos.config_checks import check_shared_fields
from keelrl.errors import check
from keelrl.functional import soft_update
from keelrl.nn.actors import TanhGaussianActor
from keelrl.nn.ensemble import EnsembleCritic, orthogonal_init_
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


@dataclass
class CQLConfig:
    """CQL(H) on SAC. Defaults are CORL's Gym-MuJoCo configuration (Kumar et al. 2020's code settings)."""

    hidden_sizes: tuple[int, ...] = (256, 256, 256)
    """Hidden layer widths of the actor and of each critic."""
    actor_lr: float = 3e-5
    """Adam learning rate of the policy."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics (and of the Lagrange multiplier α')."""
    alpha_lr: float = 3e-5
    """Adam learning rate of SAC's log α (the policy's rate in the reference code)."""
    batch_size: int = 256
    """Transitions per gradient update."""
    gamma: float = 0.99
    """Discount factor γ."""
    tau: float = 0.005
    """Polyak coefficient of the target critics."""
    num_critics: int = 2
    """Critics in the ensemble; the target and the actor use their minimum."""
    cql_alpha: float = 10.0
    """α_cql, the weight of the conservative penalty (5 or 10 in the paper's code for Gym tasks)."""
    cql_n_actions: int = 10
    """n: actions sampled per state from each of uniform, π(·|s) and π(·|s') for the logsumexp."""
    cql_temperature: float = 1.0
    """Temperature of the logsumexp (1: the paper's CQL(H))."""
    importance_sampling: bool = True
    """Subtract each sampled action's log-density inside the logsumexp (the paper's Appendix F estimator); off: a plain logsumexp over the sampled actions and the dataset action."""
    lagrange: bool = False
    """Tune α' by dual gradient descent so the penalty's gap stays near target_action_gap (the paper's Lagrange form)."""
    target_action_gap: float = 10.0
    """τ, the gap target of the Lagrange form (used only with lagrange)."""
    backup_entropy: bool = False
    """Keep -α log π(a'|s') in the target (SAC's soft backup); the reference code drops it for CQL."""
    learn_alpha: bool = True
    """Learn SAC's temperature α against the target entropy -|A|."""
    alpha: float = 1.0
    """SAC's temperature α: initial value when learned, fixed value otherwise."""
    orthogonal_init: bool = True
    """Orthogonal initialization of the critics (gain √2 hidden, 1e-2 output), as the reference code."""
    normalize_obs: bool = True
    """Standardize states with the dataset's mean and std (+1e-3), also when acting."""
    normalize_reward: bool = False
    """Scale rewards by 1000 / (max - min episode return) (CORL turns this on for hopper-medium)."""
    reward_scale: float = 1.0
    """Rewards become reward_scale · r + reward_bias (after normalize_reward)."""
    reward_bias: float = 0.0
    """See reward_scale."""
    log_std_min: float = -20.0
    """Lower clamp of the policy's log σ."""
    log_std_max: float = 2.0
    """Upper clamp of the policy's log σ."""

    def __post_init__(self) -> None:
        check_shared_fields(self)
        check(self.cql_alpha >= 0, f"cql_alpha must be >= 0, got {self.cql_alpha}")
        check(self.cql_n_actions >= 1, f"cql_n_actions must be >= 1, got {self.cql_n_actions}")
        check(self.cql_temperature > 0, f"cql_temperature must be > 0, got {self.cql_temperature}")
        check(self.alpha > 0, f"alpha must be > 0, got {self.alpha}")


# CORL's per-task settings (configs/offline/cql/<task>/<dataset>_v2.yaml); other fields keep the defaults.
PRESETS: dict[str, dict] = {
    "hopper-medium": {"normalize_reward": True},
    "hopper-medium-replay": {},
    "halfcheetah-medium": {},
}

# --------------------------------------------------------------------------- losses (pure functions)

def cql_gap(q_rand: torch.Tensor, q_pi: torch.Tensor, logp_pi: torch.Tensor, q_next_pi: torch.Tensor,
            logp_next_pi: torch.Tensor, q_data: torch.Tensor, act_dim: int, temperature: float,
            importance_sampling: bool) -> torch.Tensor:
    """gap_i = E_s[ T · logsumexp_j( Q_i(s, a_j) [- log μ(a_j)] / T ) ] - E_D[ Q_i(s, a) ]  per critic.

    q_rand, q_pi, q_next_pi [N, n, B]: Q_i at n uniform actions, n actions of π(·|s), n of π(·|s')
    (all evaluated at s); logp_pi, logp_next_pi [n, B] their log-densities (no gradient);
    q_data [N, B]. Returns gap [N].
    """
    assert q_rand.dim() == 3 and q_pi.shape == q_rand.shape == q_next_pi.shape, \
        f"shapes: rand {tuple(q_rand.shape)}, pi {tuple(q_pi.shape)}, next {tuple(q_next_pi.shape)}"
    assert logp_pi.shape == q_pi.shape[1:] and q_data.shape == (q_rand.shape[0], q_rand.shape[2])
    if importance_sampling:
        log_uniform = act_dim * math.log(0.5)  # log density of U([-1, 1]^A)
        cat = torch.cat([q_rand - log_uniform, q_next_pi - logp_next_pi, q_pi - logp_pi], dim=1)
    else:
        cat = torch.cat([q_rand, q_data.unsqueeze(1), q_next_pi, q_pi], dim=1)
    lse = temperature * torch.logsumexp(cat / temperature, dim=1)           # [N, B]
    return (lse - q_data).mean(1)                                           # [N]


def cql_critic_loss(q_data: torch.Tensor, target: torch.Tensor, gap: torch.Tensor, cql_alpha: float,
                    alpha_prime: torch.Tensor | None, target_action_gap: float) -> tuple[torch.Tensor, dict]:
    """Σ_i [ E (Q_i(s, a) - y)² + penalty_i ],  penalty_i = α_cql · gap_i, or with the Lagrange
    multiplier α' (no gradient here): α' · α_cql · (gap_i - τ).

    q_data [N, B], target [1 or N, B] (no gradient), gap [N]."""
    assert q_data.dim() == 2 and gap.shape == q_data.shape[:1], f"shapes: q {tuple(q_data.shape)}, gap {tuple(gap.shape)}"
    bellman = (q_data - target).pow(2).mean(1)                              # [N]
    if alpha_prime is None:
        penalty = cql_alpha * gap
    else:
        penalty = alpha_prime.detach() * cql_alpha * (gap - target_action_gap)
    loss = (bellman + penalty).sum()
    return loss, {"loss_q": bellman.sum().detach(), "cql_gap": gap.detach().mean(), "q_mean": q_data.detach().mean()}


def lagrange_loss(log_alpha_prime: torch.Tensor, gap: torch.Tensor, cql_alpha: float,
                  target_action_gap: float) -> tuple[torch.Tensor, dict]:
    """-(1/N) Σ_i α' · α_cql · (gap_i - τ), α' = clamp(exp(log α'), 0, 1e6): descending it raises α'
    while the gap is above τ and lowers it below (dual ascent on the constraint gap ≤ τ). gap [N], no gradient."""
    alpha_prime = log_alpha_prime.exp().clamp(0.0, 1e6)
    loss = -(alpha_prime * cql_alpha * (gap.detach() - target_action_gap)).mean()
    return loss, {"loss_alpha_prime": loss.detach(), "alpha_prime": alpha_prime.detach()}


# --------------------------------------------------------------------------- agent

LOSSES = {"actor": actor_loss_reparametrized, "temperature": temperature_loss, "gap": cql_gap,
          "critic": cql_critic_loss, "lagrange": lagrange_loss}
"""The losses CQLAgent.update calls by name."""


class CQLAgent:
    algo = "cql"
    metric_names = ("loss_q", "cql_gap", "q_mean", "loss_pi", "entropy", "loss_alpha", "alpha", "alpha_prime")

    def __init__(self, cfg: CQLConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        obs_dim, act_dim = spaces.obs_dim, spaces.act_dim
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.losses = named_losses(LOSSES, losses, "cql")
        d = self.device
        self.actor = TanhGaussianActor(obs_dim, act_dim, cfg.hidden_sizes, cfg.log_std_min, cfg.log_std_max).to(d)
        self.critic = EnsembleCritic(cfg.num_critics, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        if cfg.orthogonal_init:
            orthogonal_init_(self.critic.net)
        self.critic_target = EnsembleCritic(cfg.num_critics, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.log_alpha = torch.tensor(float(np.log(cfg.alpha)), device=d, requires_grad=cfg.learn_alpha)
        self.log_alpha_prime = torch.zeros((), device=d, requires_grad=cfg.lagrange)  # α' = 1 initially
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.critic_lr)
        self.alpha_opt = adam([self.log_alpha], cfg.alpha_lr) if cfg.learn_alpha else None
        self.alpha_prime_opt = adam([self.log_alpha_prime], cfg.critic_lr) if cfg.lagrange else None
        self.obs_norm = FixedNormalizer(obs_dim, d)
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, d)
        self.num_updates = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        dist = self.actor(self.obs_norm(obs))
        return self.bounds.to_env(dist.mode if deterministic else dist.rsample()[0])

    def _q(self, critic: EnsembleCritic, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """obs [B, O], actions [K, B, A] -> Q [N, K, B]."""
        k, b, _ = actions.shape
        obs_k = obs.unsqueeze(0).expand(k, b, obs.shape[-1]).reshape(k * b, -1)
        return critic(obs_k, actions.reshape(k * b, -1)).view(-1, k, b)

    def set_obs_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.obs_norm.set(mean, std)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The reference code's order (CORL's ContinuousCQL.train): the temperature, actor and critic
        losses are all computed on the same parameters, then α, π and the critics are stepped."""
        cfg, n = self.cfg, self.cfg.cql_n_actions
        alpha = self.log_alpha.detach().exp()
        # Actor and temperature losses, on the current critics (no gradient for the critics' weights).
        self.critic.requires_grad_(False)
        a, logp, _ = self.actor(batch.obs).rsample((1,))
        loss_pi, info = self.losses["actor"](self._q(self.critic, batch.obs, a).min(0).values, logp, alpha)
        self.critic.requires_grad_(True)
        loss_alpha = None
        if self.alpha_opt is not None:
            loss_alpha, info_alpha = self.losses["temperature"](self.log_alpha, logp, -float(self.act_dim))
            info.update(info_alpha)
        else:
            info.update(loss_alpha=torch.zeros((), device=self.device), alpha=alpha)

        # Critic loss: Bellman error plus the conservative penalty, with actions of the policy before its step.
        with torch.no_grad():
            next_a, next_logp, _ = self.actor(batch.next_obs).rsample((1,))
            q_next = self._q(self.critic_target, batch.next_obs, next_a).min(0, keepdim=True).values   # [1, 1, B]
            y = soft_q_target(batch.reward, batch.terminated, q_next, next_logp, alpha, cfg.gamma, cfg.backup_entropy)
            b = batch.obs.shape[0]
            rand_a = torch.rand(n, b, self.act_dim, device=self.device) * 2 - 1
            pi_a, pi_logp, _ = self.actor(batch.obs).rsample((n,))
            next_pi_a, next_pi_logp, _ = self.actor(batch.next_obs).rsample((n,))
        q_sampled = self._q(self.critic, batch.obs, torch.cat([rand_a, pi_a, next_pi_a]))            # [N, 3n, B]
        q_rand, q_pi, q_next_pi = q_sampled.split(n, dim=1)
        q_data = self.critic(batch.obs, batch.action)                                                   # [N, B]
        gap = self.losses["gap"](q_rand, q_pi, pi_logp, q_next_pi, next_pi_logp, q_data, self.act_dim,
                                 cfg.cql_temperature, cfg.importance_sampling)
        alpha_prime = self.log_alpha_prime.exp().clamp(0.0, 1e6) if cfg.lagrange else None
        loss_q, info_q = self.losses["critic"](q_data, y, gap, cfg.cql_alpha, alpha_prime, cfg.target_action_gap)
        info.update(info_q)

        # The steps: α' (Lagrange), α, π, then the critics.
        if self.alpha_prime_opt is not None:
            loss_ap, info_ap = self.losses["lagrange"](self.log_alpha_prime, gap, cfg.cql_alpha, cfg.target_action_gap)
            self.alpha_prime_opt.zero_grad(set_to_none=True)
            loss_ap.backward()
            self.alpha_prime_opt.step()
            info["alpha_prime"] = info_ap["alpha_prime"]
        else:
            info["alpha_prime"] = torch.zeros((), device=self.device)
        if loss_alpha is not None:
            self.alpha_opt.zero_grad(set_to_none=True)
            loss_alpha.backward()
            self.alpha_opt.step()
        self.actor_opt.zero_grad(set_to_none=True)
        loss_pi.backward()
        self.actor_opt.step()
        self.critic_opt.zero_grad(set_to_none=True)
        loss_q.backward()
        self.critic_opt.step()

        soft_update(self.critic_target.parameters(), self.critic.parameters(), cfg.tau)
        self.num_updates += 1
        return info

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                **{k: getattr(self, k).state_dict() for k in ("actor", "critic", "critic_target", "actor_opt",
                                                              "critic_opt", "obs_norm")},
                "log_alpha": self.log_alpha.detach().cpu(), "log_alpha_prime": self.log_alpha_prime.detach().cpu(),
                "alpha_opt": None if self.alpha_opt is None else self.alpha_opt.state_dict(),
                "alpha_prime_opt": None if self.alpha_prime_opt is None else self.alpha_prime_opt.state_dict(),
                "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        for k in ("actor", "critic", "critic_target", "actor_opt", "critic_opt", "obs_norm"):
            getattr(self, k).load_state_dict(state[k])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
            self.log_alpha_prime.copy_(state["log_alpha_prime"])
        for k in ("alpha_opt", "alpha_prime_opt"):
            if getattr(self, k) is not None:
                getattr(self, k).load_state_dict(state[k])
        self.num_updates = state["num_updates"]


def needs(cfg: CQLConfig) -> DatasetNeeds:
    return DatasetNeeds(cfg.batch_size, reward_range_scale=1000.0 if cfg.normalize_reward else None,
                        reward_scale=cfg.reward_scale, reward_bias=cfg.reward_bias, normalize_obs=cfg.normalize_obs)


SPEC = AlgoSpec("cql", CQLConfig, CQLAgent, "Conservative Q-Learning, CQL(H) on SAC (offline)", "dataset",
                continuous_actions, needs, presets=PRESETS)
