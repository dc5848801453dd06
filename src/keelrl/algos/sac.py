"""Soft Actor-Critic (Haarnoja et al. 2018a "SAC", 2018b "SAC: algorithms and applications").

Maximum-entropy RL: maximise  E[ Σ_t γ^t ( r_t + α H(π(·|s_t)) ) ].

    soft Q target   y = r + γ (1 - d) E_{a'~π}[ Q̄(s', a') - α log π(a'|s') ]    (2018b Eq. 3/5)
    critic loss     J_Q = E[ ½ (Q_i(s, a) - y)² ]                              (2018b Eq. 5)
    actor loss      J_π = E_s E_{a~π}[ α log π(a|s) - Q(s, a) ]                (2018b Eq. 7)
    temperature     J(α) = E_{a~π}[ -α log π(a|s) - α H̄ ],  H̄ = -|A|          (2018b Eq. 18)

Q̄ is the target critic; how the ensemble of target values becomes one target is the `backup`
option. Every option below answers one of the study notes' questions; docs/algorithms/sac.md gives
each option's equation and the function computing it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from keelrl.algos.spec import AlgoSpec, Transitions, UpdateBranches, named_losses
from keelrl.envs.action_bounds import ActionBounds
from keelrl.envs.spaces import continuous_actions
from keelrl.errors import check
from keelrl.functional import hard_update, soft_update, td_target
from keelrl.nn.actors import TanhGaussianActor
from keelrl.nn.ensemble import EnsembleCritic
from keelrl.optim import adam
from keelrl.types import Batch, Spaces

Backup = Literal["min", "mean", "doubleq", "single", "redq"]


@dataclass
class SACConfig:
    """Soft Actor-Critic. Defaults are the SAC paper's (Haarnoja et al. 2018b, Table 1); learning_starts is CleanRL's."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor and of each critic."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    alpha_lr: float = 3e-4
    """Adam learning rate of log α (when the temperature is learned)."""
    batch_size: int = 256
    """Transitions per gradient update."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity, in transitions."""
    gamma: float = 0.99
    """Discount factor γ."""
    learning_starts: int = 5000
    """Environment steps taken with uniform random actions before the first update."""
    updates_per_step: float = 1.0
    """Update-to-data (UTD) ratio: gradient updates per environment step (e.g. 20 for REDQ)."""
    num_critics: int = 2
    """N, the number of Q-networks, held as one vectorized ensemble."""
    backup: Backup = "min"
    """How the target critics' values Q̄_1..Q̄_N become the bootstrap target: `min` (clipped double-Q, every critic regresses on min_i Q̄_i), `mean` (on the mean), `doubleq` (N=2: critic 1 bootstraps from target critic 2 and vice versa), `single` (each critic from its own target critic; with N=1 this is plain single-Q SAC), `redq` (min over a random subset of M of the N target critics, drawn afresh each update; Chen et al. 2021)."""
    redq_subset: int = 2
    """M, the size of the random subset of target critics for `backup=redq` (M <= N)."""
    actor_q: Literal["min", "mean"] = "min"
    """How the critics' values are combined in the actor loss: `min` (SAC), `mean` (REDQ: the ensemble mean)."""
    policy_update_period: int = 1
    """Update the actor and the temperature once every this many critic updates: 1 is SAC; REDQ updates the policy once per G critic updates, G = updates_per_step (with backup=redq, actor_q=mean)."""
    backup_entropy: bool = True
    """Keep the entropy bonus -α log π(a'|s') inside the target (soft Bellman backup). Off gives the plain Bellman backup of a policy that is still trained to be stochastic."""
    num_actor_samples: int = 1
    """Actions sampled per state: the target and the actor loss average over that many samples of a ~ π(·|s) (a Monte-Carlo estimate of the expectation over actions)."""
    actor_gradient: Literal["reparametrize", "reinforce"] = "reparametrize"
    """`reparametrize`: a = tanh(μ + σ ε), gradient through Q(s, a) (pathwise). `reinforce`: the score-function gradient E[∇ log π(a|s) (Q(s,a) - α log π(a|s) - b(s))] with the baseline b(s) = Q(s, tanh μ(s)); needs no critic gradient but has a higher variance."""
    learn_alpha: bool = True
    """Learn the temperature α against the target entropy (Eq. 18); otherwise α stays at `alpha`."""
    alpha: float = 1.0
    """Temperature α: the initial value when learned, the fixed value otherwise."""
    target_entropy: float | None = None
    """Target entropy H̄ for the temperature loss; None means -|A| (the paper's heuristic)."""
    tau: float = 0.005
    """Polyak coefficient of soft target updates θ' ← τθ + (1-τ)θ'."""
    target_update: Literal["soft", "hard"] = "soft"
    """`soft`: Polyak averaging with `tau`; `hard`: copy θ' ← θ."""
    target_update_period: int = 1
    """Update the target critics every this many gradient updates."""
    log_std_min: float = -20.0
    """Lower clamp of the policy's log σ."""
    log_std_max: float = 2.0
    """Upper clamp of the policy's log σ."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        check(len(self.hidden_sizes) >= 1 and all(h > 0 for h in self.hidden_sizes),
              f"hidden_sizes must be one or more positive widths, got {self.hidden_sizes}")
        for name in ("actor_lr", "critic_lr", "alpha_lr"):
            check(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.buffer_size >= 1, f"buffer_size must be >= 1, got {self.buffer_size}")
        check(self.batch_size <= self.buffer_size,
              f"batch_size ({self.batch_size}) must not exceed buffer_size ({self.buffer_size})")
        check(0.0 <= self.gamma <= 1.0, f"gamma must be in [0, 1], got {self.gamma}")
        check(self.learning_starts >= 0, f"learning_starts must be >= 0, got {self.learning_starts}")
        check(self.updates_per_step > 0, f"updates_per_step must be > 0, got {self.updates_per_step}")
        check(self.num_critics >= 1, f"num_critics must be >= 1, got {self.num_critics}")
        check(self.backup in ("min", "mean", "doubleq", "single", "redq"),
              f"backup must be one of min, mean, doubleq, single, redq; got {self.backup!r}")
        if self.backup == "doubleq":
            check(self.num_critics == 2, f"backup=doubleq swaps two critics: it needs num_critics=2, got {self.num_critics}")
        if self.backup == "redq":
            check(1 <= self.redq_subset <= self.num_critics,
                  f"backup=redq needs 1 <= redq_subset (M={self.redq_subset}) <= num_critics (N={self.num_critics})")
        check(self.num_actor_samples >= 1, f"num_actor_samples must be >= 1, got {self.num_actor_samples}")
        check(self.actor_gradient in ("reparametrize", "reinforce"),
              f"actor_gradient must be reparametrize or reinforce, got {self.actor_gradient!r}")
        check(self.alpha >= 0, f"alpha must be >= 0, got {self.alpha}")
        check(not self.learn_alpha or self.alpha > 0, "a learned temperature needs an initial alpha > 0")
        check(0.0 < self.tau <= 1.0, f"tau must be in (0, 1], got {self.tau}")
        check(self.target_update in ("soft", "hard"), f"target_update must be soft or hard, got {self.target_update!r}")
        check(self.target_update_period >= 1, f"target_update_period must be >= 1, got {self.target_update_period}")
        check(self.policy_update_period >= 1, f"policy_update_period must be >= 1, got {self.policy_update_period}")
        check(self.log_std_min < self.log_std_max,
              f"log_std_min ({self.log_std_min}) must be below log_std_max ({self.log_std_max})")


# --------------------------------------------------------------------------- losses (pure functions)

def backup_values(q_next: torch.Tensor, backup: Backup, subset: torch.Tensor | None = None) -> torch.Tensor:
    """Combine target-critic values Q̄_i(s', a') into the value each critic bootstraps from.

    q_next [N, K, B] -> [N', K, B], with N' = 1 for min/mean/redq (one shared target) and N' = N
    for doubleq/single (one target per critic).
    """
    if backup == "min":          # clipped double-Q (Fujimoto et al. 2018): min_i Q̄_i
        return q_next.min(0, keepdim=True).values
    if backup == "mean":         # (1/N) Σ_i Q̄_i
        return q_next.mean(0, keepdim=True)
    if backup == "doubleq":      # double Q-learning (van Hasselt 2010): y_1 uses Q̄_2, y_2 uses Q̄_1
        return q_next.flip(0)
    if backup == "single":       # y_i uses Q̄_i
        return q_next
    if backup == "redq":         # REDQ (Chen et al. 2021, Eq. 1): min over a random subset M ⊂ {1..N}
        return q_next[subset].min(0, keepdim=True).values
    raise ValueError(f"unknown backup {backup!r}")


def soft_q_target(reward: torch.Tensor, terminated: torch.Tensor, q_next: torch.Tensor,
                  next_log_prob: torch.Tensor, alpha: torch.Tensor, gamma: float, backup_entropy: bool) -> torch.Tensor:
    """y = r + γ (1 - d) · (1/K) Σ_k [ Q̄(s', a'_k) - α log π(a'_k|s') ],  a'_k ~ π(·|s').

    reward, terminated [B]; q_next [N', K, B] (already combined by `backup_values`);
    next_log_prob [K, B]. Returns y [N', B]. The expectation over a' in the paper is the sample
    mean over the K actions (K = num_actor_samples; K = 1 is the usual single-sample estimate).
    """
    assert reward.dim() == 1 and q_next.dim() == 3 and next_log_prob.shape == q_next.shape[1:], \
        f"shapes: reward {tuple(reward.shape)}, q_next {tuple(q_next.shape)}, log_prob {tuple(next_log_prob.shape)}"
    soft_value = q_next - alpha * next_log_prob if backup_entropy else q_next   # [N', K, B]
    return td_target(reward, terminated, soft_value.mean(1), gamma)            # [N', B]


def critic_loss(q: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """J_Q = Σ_i E_B[ ½ (Q_i(s, a) - y_i)² ]  (2018b Eq. 5), summed over the N critics.

    q [N, B]; target [N', B] with N' in {1, N}, no gradient.
    """
    assert q.dim() == 2 and target.dim() == 2 and target.shape[1] == q.shape[1], \
        f"shapes: q {tuple(q.shape)}, target {tuple(target.shape)}"
    loss = 0.5 * (q - target).pow(2).mean(1).sum()
    return loss, {"loss_q": loss.detach(), "q_mean": q.detach().mean()}


def actor_loss_reparametrized(q_pi: torch.Tensor, log_prob: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """J_π = E_s (1/K) Σ_k [ α log π(a_k|s) - Q(s, a_k) ],  a_k = tanh(μ + σ ε_k)  (2018b Eq. 7, Eq. 8).

    q_pi, log_prob [K, B]; both carry gradients to the policy through a_k.
    """
    assert q_pi.shape == log_prob.shape and q_pi.dim() == 2, f"shapes: q {tuple(q_pi.shape)}, log_prob {tuple(log_prob.shape)}"
    loss = (alpha * log_prob - q_pi).mean()
    return loss, {"loss_pi": loss.detach(), "entropy": -log_prob.detach().mean()}


def actor_loss_reinforce(q_pi: torch.Tensor, log_prob: torch.Tensor, baseline: torch.Tensor,
                         alpha: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Score-function (REINFORCE) form of the same objective:

        ∇J_π = -E_s E_{a~π}[ ∇ log π(a|s) · (Q(s, a) - α log π(a|s) - b(s)) ]

    (the entropy term's own ∇ log π has expectation zero, so it folds into the weight).
    q_pi [K, B] and baseline [B] carry no gradient; log_prob [K, B] does, through π's parameters
    only (the actions are constants).
    """
    assert q_pi.shape == log_prob.shape and baseline.shape == q_pi.shape[1:], \
        f"shapes: q {tuple(q_pi.shape)}, log_prob {tuple(log_prob.shape)}, baseline {tuple(baseline.shape)}"
    advantage = (q_pi - alpha * log_prob - baseline).detach()
    loss = -(log_prob * advantage).mean()
    return loss, {"loss_pi": loss.detach(), "entropy": -log_prob.detach().mean()}


def temperature_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> tuple[torch.Tensor, dict]:
    """J(α) = E_{a~π}[ -α log π(a|s) - α H̄ ]  (2018b Eq. 18), α = exp(log α) so α stays positive.

    Raises α when the policy's entropy -log π is below the target H̄, lowers it when above.
    log_prob [...] carries no gradient.
    """
    alpha = log_alpha.exp()
    loss = -(alpha * (log_prob.detach() + target_entropy)).mean()
    return loss, {"loss_alpha": loss.detach(), "alpha": alpha.detach()}


def update_target_critic(target: torch.nn.Module, critic: torch.nn.Module, cfg: SACConfig, num_updates: int) -> None:
    """Every `target_update_period` updates: θ' ← τθ + (1-τ)θ' (soft) or θ' ← θ (hard)."""
    if num_updates % cfg.target_update_period == 0:
        if cfg.target_update == "soft":
            soft_update(target.parameters(), critic.parameters(), cfg.tau)
        else:
            hard_update(target.parameters(), critic.parameters())


# --------------------------------------------------------------------------- agent

LOSSES = {"critic": critic_loss, "actor": actor_loss_reparametrized, "actor_reinforce": actor_loss_reinforce,
          "temperature": temperature_loss}
"""The losses SACAgent.update calls by name; a variant replaces one with `SACAgent(..., losses={name: fn})`."""


class SACAgent:
    """Holds SAC's networks and optimizers; `update` runs four named steps (critic, actor,
    temperature, target), each calling a pure loss of `self.losses`. Save and load with
    keelrl.save_agent / keelrl.load_agent."""

    algo = "sac"
    metric_names = ("loss_q", "q_mean", "loss_pi", "entropy", "loss_alpha", "alpha")

    def __init__(self, cfg: SACConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.losses = named_losses(LOSSES, losses, "sac")
        d, obs_dim, act_dim = self.device, spaces.obs_dim, spaces.act_dim
        self.actor = TanhGaussianActor(obs_dim, act_dim, cfg.hidden_sizes, cfg.log_std_min, cfg.log_std_max).to(d)
        self.critic = EnsembleCritic(cfg.num_critics, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic_target = EnsembleCritic(cfg.num_critics, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.log_alpha = torch.tensor(float(np.log(max(cfg.alpha, 1e-30))), device=d, requires_grad=cfg.learn_alpha)
        self.target_entropy = float(-act_dim if cfg.target_entropy is None else cfg.target_entropy)
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.critic_lr)
        self.alpha_opt = adam([self.log_alpha], cfg.alpha_lr) if cfg.learn_alpha else None
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, d)
        self.num_updates = 0
        zero = torch.zeros((), device=d)
        self._last_pi = {"loss_pi": zero, "entropy": zero.clone(), "loss_alpha": zero.clone(),
                         "alpha": self.log_alpha.detach().exp()}   # reported between policy updates

    # ---- acting: actions in the env's bounds; the buffer stores them back in [-1, 1]
    @torch.no_grad()
    def act(self, obs: np.ndarray | torch.Tensor, deterministic: bool = False) -> np.ndarray:
        """obs [N, O] -> env-space actions [N, A] (deterministic: tanh(μ(s)), else a sample)."""
        obs_t = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        dist = self.actor(obs_t)
        a = dist.mode if deterministic else dist.rsample()[0]
        return self.bounds.to_env(a)

    def explore(self, obs: np.ndarray, step: int) -> np.ndarray:
        """The training-time action: a sample of the stochastic policy."""
        return self.act(obs)

    def to_policy_space(self, env_action: np.ndarray) -> np.ndarray:
        """Map env-space actions back to the policy's [-1, 1] (what the buffer stores)."""
        return self.bounds.to_policy(env_action)

    # ---- learning
    def _critic_values(self, critic: EnsembleCritic, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """obs [B, O], actions [K, B, A] -> Q [N, K, B]."""
        k, b, _ = actions.shape
        obs_k = obs.unsqueeze(0).expand(k, b, obs.shape[-1]).reshape(k * b, -1)
        return critic(obs_k, actions.reshape(k * b, -1)).view(-1, k, b)

    def _actor_q(self, q: torch.Tensor) -> torch.Tensor:
        return q.min(0).values if self.cfg.actor_q == "min" else q.mean(0)

    def critic_step(self, batch: Batch, alpha: torch.Tensor) -> dict[str, torch.Tensor]:
        """Regress Q_i(s, a) on the soft target y (Eq. 3/5), one Adam step of the critics."""
        cfg, k = self.cfg, self.cfg.num_actor_samples
        with torch.no_grad():
            next_a, next_logp, _ = self.actor(batch.next_obs).rsample((k,))              # [K, B, A], [K, B]
            q_next = self._critic_values(self.critic_target, batch.next_obs, next_a)     # [N, K, B]
            subset = torch.randperm(cfg.num_critics, device=self.device)[: cfg.redq_subset] if cfg.backup == "redq" else None
            y = soft_q_target(batch.reward, batch.terminated, backup_values(q_next, cfg.backup, subset),
                              next_logp, alpha, cfg.gamma, cfg.backup_entropy)
        loss_q, info = self.losses["critic"](self.critic(batch.obs, batch.action), y)
        self.critic_opt.zero_grad(set_to_none=True)
        loss_q.backward()
        self.critic_opt.step()
        return info

    def actor_step(self, batch: Batch, alpha: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One Adam step of the policy on J_π (Eq. 7), the critics frozen; returns (info, log π of the
        sampled actions) for the temperature step."""
        cfg, k = self.cfg, self.cfg.num_actor_samples
        self.critic.requires_grad_(False)   # constants here: no gradient is computed for their weights
        dist = self.actor(batch.obs)
        if cfg.actor_gradient == "reparametrize":
            a, logp, _ = dist.rsample((k,))
            loss_pi, info = self.losses["actor"](self._actor_q(self._critic_values(self.critic, batch.obs, a)), logp, alpha)
        else:
            with torch.no_grad():
                a, _, u = dist.rsample((k,))
                q_pi = self._actor_q(self._critic_values(self.critic, batch.obs, a))
                baseline = self._actor_q(self._critic_values(self.critic, batch.obs, dist.mode.unsqueeze(0)))[0]
            logp = dist.log_prob_pre_tanh(u)
            loss_pi, info = self.losses["actor_reinforce"](q_pi, logp, baseline, alpha)
        self.actor_opt.zero_grad(set_to_none=True)
        loss_pi.backward()
        self.actor_opt.step()
        self.critic.requires_grad_(True)
        return info, logp

    def temperature_step(self, logp: torch.Tensor, alpha: torch.Tensor) -> dict[str, torch.Tensor]:
        """One Adam step of log α on J(α) (Eq. 18), or the fixed α when it is not learned."""
        if self.alpha_opt is None:
            return {"alpha": alpha}
        loss_alpha, info = self.losses["temperature"](self.log_alpha, logp, self.target_entropy)
        self.alpha_opt.zero_grad(set_to_none=True)
        loss_alpha.backward()
        self.alpha_opt.step()
        return info

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        alpha = self.log_alpha.detach().exp()
        info = self.critic_step(batch, alpha)
        if (self.num_updates + 1) % self.cfg.policy_update_period == 0:   # every update, unless REDQ's G > 1
            info_pi, logp = self.actor_step(batch, alpha)
            self._last_pi = {**info_pi, **self.temperature_step(logp, alpha)}
        info.update(self._last_pi)
        self.num_updates += 1
        update_target_critic(self.critic_target, self.critic, self.cfg, self.num_updates)
        return info

    # ---- persistence
    def state_dict(self) -> dict:
        return {
            "config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(), "log_alpha": self.log_alpha.detach().cpu(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": None if self.alpha_opt is None else self.alpha_opt.state_dict(),
            "num_updates": self.num_updates, "last_pi": {k: v.detach().cpu() for k, v in self._last_pi.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        if self.alpha_opt is not None and state["alpha_opt"] is not None:
            self.alpha_opt.load_state_dict(state["alpha_opt"])
        self.num_updates = state["num_updates"]
        self._last_pi = {k: v.to(self.device) for k, v in state["last_pi"].items()}


# --------------------------------------------------------------------------- spec

def needs(cfg: SACConfig) -> Transitions:
    return Transitions(cfg.batch_size, cfg.buffer_size, cfg.learning_starts, cfg.updates_per_step)


SPEC = AlgoSpec(
    "sac", SACConfig, SACAgent, "Soft Actor-Critic (continuous actions)", "transitions", continuous_actions, needs,
    branches=lambda cfg: UpdateBranches(periods=(cfg.target_update_period, cfg.policy_update_period)))
