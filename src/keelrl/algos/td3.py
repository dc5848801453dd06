"""Twin Delayed DDPG (Fujimoto, van Hoof & Meger 2018, "Addressing Function Approximation Error in Actor-Critic Methods").

A deterministic policy μ_φ and two critics Q_θ1, Q_θ2, with three changes to DDPG:

    target policy smoothing   ã = clip( μ_φ'(s') + clip(ε, -c, c), -1, 1 ),  ε ~ N(0, σ̃²)   (Eq. 14-15)
    clipped double-Q target   y = r + γ (1 - d) min_{i=1,2} Q_θ'i(s', ã)                      (Eq. 10)
    critic loss               J_Q = Σ_i E[ (Q_θi(s, a) - y)² ]
    delayed actor update      every d critic updates:  J_μ = -E_s[ Q_θ1(s, μ_φ(s)) ]         (Eq. 6, deterministic PG)
                              and then the Polyak updates θ'_i ← τ θ_i + (1-τ) θ'_i, φ' ← τ φ + (1-τ) φ'

Exploration adds Gaussian noise N(0, σ²) to μ(s). Defaults are the authors' repository (256×256,
Adam 3e-4, batch 256, σ = 0.1, σ̃ = 0.2, c = 0.5, d = 2, τ = 0.005); its 25k random start steps
are `learning_starts` here (5000 by default, as keelrl's SAC). `td3_critic_loss` takes the target
action as an argument so that DDPG, TD3+BC and HyAR reuse it with their own ã.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from keelrl.algos.spec import AlgoSpec, Transitions, UpdateBranches, named_losses
from keelrl.envs.action_bounds import ActionBounds
from keelrl.envs.spaces import continuous_actions
from keelrl.errors import check
from keelrl.functional import soft_update, td_target
from keelrl.nn.actors import DeterministicActor
from keelrl.nn.ensemble import EnsembleCritic
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


@dataclass
class TD3Config:
    """TD3. Defaults are the authors' repository (sfujim/TD3), except learning_starts (25000 there)."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor and of each critic."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy μ."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    batch_size: int = 256
    """Transitions per gradient update."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity, in transitions."""
    gamma: float = 0.99
    """Discount factor γ."""
    tau: float = 0.005
    """Polyak coefficient of the target networks θ' ← τθ + (1-τ)θ'."""
    learning_starts: int = 5000
    """Environment steps taken with uniform random actions before the first update."""
    updates_per_step: float = 1.0
    """Gradient updates (of the critics) per environment step."""
    num_critics: int = 2
    """Critics in the ensemble; the target is the minimum over all of them (2: clipped double-Q)."""
    exploration_noise: float = 0.1
    """σ: std of the Gaussian noise added to μ(s) when acting, in the policy's [-1, 1] action units."""
    policy_noise: float = 0.2
    """σ̃: std of the target policy smoothing noise."""
    noise_clip: float = 0.5
    """c: the smoothing noise is clipped to [-c, c]."""
    policy_delay: int = 2
    """d: update the actor and the target networks once every d critic updates."""

    def __post_init__(self) -> None:
        validate_deterministic_ac(self)
        check(self.num_critics >= 1, f"num_critics must be >= 1, got {self.num_critics}")
        check(self.policy_noise >= 0, f"policy_noise must be >= 0, got {self.policy_noise}")
        check(self.noise_clip >= 0, f"noise_clip must be >= 0, got {self.noise_clip}")
        check(self.policy_delay >= 1, f"policy_delay must be >= 1, got {self.policy_delay}")


def validate_deterministic_ac(cfg) -> None:
    """The checks TD3Config and DDPGConfig share (same field names, same meaning)."""
    cfg.hidden_sizes = tuple(int(h) for h in cfg.hidden_sizes)
    check(len(cfg.hidden_sizes) >= 1 and all(h > 0 for h in cfg.hidden_sizes),
          f"hidden_sizes must be one or more positive widths, got {cfg.hidden_sizes}")
    for name in ("actor_lr", "critic_lr"):
        check(getattr(cfg, name) > 0, f"{name} must be > 0, got {getattr(cfg, name)}")
    check(cfg.batch_size >= 1, f"batch_size must be >= 1, got {cfg.batch_size}")
    check(cfg.batch_size <= cfg.buffer_size, f"batch_size ({cfg.batch_size}) must not exceed buffer_size ({cfg.buffer_size})")
    check(0.0 <= cfg.gamma <= 1.0, f"gamma must be in [0, 1], got {cfg.gamma}")
    check(0.0 < cfg.tau <= 1.0, f"tau must be in (0, 1], got {cfg.tau}")
    check(cfg.learning_starts >= 0, f"learning_starts must be >= 0, got {cfg.learning_starts}")
    check(cfg.updates_per_step > 0, f"updates_per_step must be > 0, got {cfg.updates_per_step}")
    check(cfg.exploration_noise >= 0, f"exploration_noise must be >= 0, got {cfg.exploration_noise}")


# --------------------------------------------------------------------------- losses (pure functions)

def smoothed_target_action(actor_target: torch.nn.Module, next_obs: torch.Tensor, policy_noise: float,
                           noise_clip: float) -> torch.Tensor:
    """ã = clip( μ_φ'(s') + clip(ε, -c, c), -1, 1 ),  ε ~ N(0, σ̃²)  (Eq. 14-15). [B, O] -> [B, A]."""
    mu = actor_target(next_obs)
    noise = (torch.randn_like(mu) * policy_noise).clamp(-noise_clip, noise_clip)
    return (mu + noise).clamp(-1.0, 1.0)


def td3_critic_loss(critic: EnsembleCritic, critic_target: EnsembleCritic, batch: Batch, next_action: torch.Tensor,
                    gamma: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """J_Q = Σ_i E_B[ (Q_θi(s, a) - y)² ],  y = r + γ (1 - d) min_i Q_θ'i(s', ã)  (Eq. 10).

    next_action ã [B, A] is given by the caller (TD3: smoothed target action; DDPG: μ'(s'), with one
    critic the min is that critic; TD3+BC, HyAR: their own). Returns the summed loss over critics.
    """
    assert next_action.dim() == 2 and next_action.shape[0] == batch.obs.shape[0], \
        f"next_action must be [B, A], got {tuple(next_action.shape)}"
    with torch.no_grad():
        q_next = critic_target(batch.next_obs, next_action).min(0).values           # [B]
        y = td_target(batch.reward, batch.terminated, q_next, gamma)                 # [B]
    q = critic(batch.obs, batch.action)                                              # [N, B]
    loss = (q - y).pow(2).mean(1).sum()
    return loss, {"loss_q": loss.detach(), "q_mean": q.detach().mean()}


def deterministic_actor_loss(q_pi: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """J_μ = -E_s[ Q_θ1(s, μ_φ(s)) ]  (deterministic policy gradient, Silver et al. 2014; TD3 Eq. 6).

    q_pi [B]: the first critic's value of the policy's action, with gradient to φ through μ_φ(s).
    """
    assert q_pi.dim() == 1, f"q_pi must be [B], got {tuple(q_pi.shape)}"
    loss = -q_pi.mean()
    return loss, {"loss_pi": loss.detach()}


# --------------------------------------------------------------------------- agent

class DeterministicActorCritic:
    """What TD3 and DDPG hold alike: μ_φ, μ_φ', N critics and their targets, optimizers, action
    bounds, noisy acting and persistence. Each algorithm's `update` is its own."""

    def __init__(self, cfg, num_critics: int, spaces: Spaces, device: torch.device | str,
                 losses: dict[str, Callable]) -> None:
        self.cfg, self.spaces, self.device, self.losses = cfg, spaces, torch.device(device), losses
        d, obs_dim, act_dim = self.device, spaces.obs_dim, spaces.act_dim
        self.actor = DeterministicActor(obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.actor_target = DeterministicActor(obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic = EnsembleCritic(num_critics, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic_target = EnsembleCritic(num_critics, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.actor_target.requires_grad_(False)
        self.critic_target.requires_grad_(False)
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.critic_lr)
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, d)
        self.num_updates = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """obs [N, O] -> env-space actions [N, A]: μ(s), plus N(0, σ²) noise clipped to [-1, 1] when exploring."""
        a = self.actor(torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device))
        if not deterministic and self.cfg.exploration_noise > 0:
            a = (a + self.cfg.exploration_noise * torch.randn_like(a)).clamp(-1.0, 1.0)
        return self.bounds.to_env(a)

    def to_policy_space(self, env_action: np.ndarray) -> np.ndarray:
        return self.bounds.to_policy(env_action)

    def actor_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One step of J_μ with the critics frozen (no gradient is computed for their weights)."""
        self.critic.requires_grad_(False)
        loss_pi, info = self.losses["actor"](self.critic.member(0, batch.obs, self.actor(batch.obs)))
        self.actor_opt.zero_grad(set_to_none=True)
        loss_pi.backward()
        self.actor_opt.step()
        self.critic.requires_grad_(True)
        return info

    def critic_step(self, batch: Batch, next_action: torch.Tensor) -> dict[str, torch.Tensor]:
        loss_q, info = self.losses["critic"](self.critic, self.critic_target, batch, next_action, self.cfg.gamma)
        self.critic_opt.zero_grad(set_to_none=True)
        loss_q.backward()
        self.critic_opt.step()
        return info

    def update_targets(self) -> None:
        soft_update(self.critic_target.parameters(), self.critic.parameters(), self.cfg.tau)
        soft_update(self.actor_target.parameters(), self.actor.parameters(), self.cfg.tau)

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                **{k: getattr(self, k).state_dict() for k in
                   ("actor", "actor_target", "critic", "critic_target", "actor_opt", "critic_opt")},
                "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        for k in ("actor", "actor_target", "critic", "critic_target", "actor_opt", "critic_opt"):
            getattr(self, k).load_state_dict(state[k])
        self.num_updates = state["num_updates"]


LOSSES = {"critic": td3_critic_loss, "actor": deterministic_actor_loss}
"""The losses TD3's and DDPG's updates call by name (DeterministicActorCritic.critic_step / actor_step)."""


class TD3Agent:
    """TD3's update: critics every step, actor and targets every `policy_delay` steps."""

    algo = "td3"
    metric_names = ("loss_q", "q_mean", "loss_pi")

    def __init__(self, cfg: TD3Config, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg = cfg
        self.ac = DeterministicActorCritic(cfg, cfg.num_critics, spaces, device, named_losses(LOSSES, losses, "td3"))
        self.device = self.ac.device
        self._last_pi: dict[str, torch.Tensor] = {"loss_pi": torch.zeros((), device=self.device)}

    @property
    def num_updates(self) -> int:
        return self.ac.num_updates

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return self.ac.act(obs, deterministic)

    def explore(self, obs: np.ndarray, step: int) -> np.ndarray:
        """The training-time action: μ(s) plus Gaussian exploration noise."""
        return self.act(obs)

    def to_policy_space(self, env_action: np.ndarray) -> np.ndarray:
        return self.ac.to_policy_space(env_action)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg, ac = self.cfg, self.ac
        with torch.no_grad():
            next_action = smoothed_target_action(ac.actor_target, batch.next_obs, cfg.policy_noise, cfg.noise_clip)
        info = ac.critic_step(batch, next_action)
        ac.num_updates += 1
        if ac.num_updates % cfg.policy_delay == 0:  # delayed policy and target updates
            self._last_pi = ac.actor_step(batch)
            ac.update_targets()
        return {**info, **self._last_pi}

    def state_dict(self) -> dict:
        return {**self.ac.state_dict(), "last_loss_pi": self._last_pi["loss_pi"].detach().cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.ac.load_state_dict(state)
        self._last_pi = {"loss_pi": state["last_loss_pi"].to(self.device)}  # reported until the next actor update


def needs(cfg) -> Transitions:
    """What the off-policy loop needs of TD3's and DDPG's Configs (the same fields)."""
    return Transitions(cfg.batch_size, cfg.buffer_size, cfg.learning_starts, cfg.updates_per_step)


SPEC = AlgoSpec("td3", TD3Config, TD3Agent, "Twin Delayed DDPG (continuous actions)", "transitions",
                continuous_actions, needs, branches=lambda cfg: UpdateBranches(periods=(cfg.policy_delay,)))
