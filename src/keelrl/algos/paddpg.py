"""PA-DDPG (Hausknecht & Stone 2016, "Deep Reinforcement Learning in Parameterized Action Space"):
DDPG whose actor emits one flat vector a = [scores of the K discrete actions | all P parameters],
bounded by inverting gradients instead of a squashing function.

    act              k = argmax_j a_j over the K scores; the parameters a[K:] (clipped to [-1, 1])
    critic           Q_θ(s, a) on the flat vector the actor emitted (stored with each transition)
    target           y = r + γ (1 - d) Q_θ'(s', μ_φ'(s'))
    critic loss      J_Q = E[ (Q_θ(s, a) - y)² ]                           (algos/td3.py td3_critic_loss)
    actor            ∇_φ via g̃ = invert_gradients(∂Q/∂a, a) on every output, bounds [-1, 1] (§4.3.3)

Exploration: with probability ε (decaying linearly over exploration_steps) the scores are uniform
random in [-1, 1]; Gaussian noise σ on the parameters. Defaults: Bester et al.'s PA-DDPG run for
Platform (cycraig/MP-DQN), in environment steps where it counts episodes. Their code also mixes
n-step returns (β) but their runs leave it off, as here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

import numpy as np
import torch

from keelrl.algos.dqn import linear_epsilon
from keelrl.algos.spec import FLAT_HYBRID, AlgoSpec, Transitions, named_losses
from keelrl.algos.td3 import td3_critic_loss
from keelrl.envs.hybrid.actions import HybridActions
from keelrl.envs.spaces import hybrid_actions
from keelrl.errors import check
from keelrl.functional import inverted_gradient_loss, soft_update
from keelrl.nn.ensemble import EnsembleCritic
from keelrl.nn.mlp import mlp
from keelrl.optim import adam, optimizer_step
from keelrl.types import Batch, HybridAction, Spaces


@dataclass
class PADDPGConfig:
    """PA-DDPG. Defaults: Bester et al.'s Platform run (cycraig/MP-DQN run_platform_paddpg.py)."""

    hidden_sizes: tuple[int, ...] = (256, 128)
    """Hidden layer widths of the actor and the critic."""
    actor_lr: float = 1e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critic."""
    batch_size: int = 32
    """Transitions per gradient update."""
    buffer_size: int = 10_000
    """Replay buffer capacity, in transitions."""
    gamma: float = 0.9
    """Discount factor γ."""
    tau: float = 0.01
    """Polyak coefficient of both target networks."""
    learning_starts: int = 128
    """Environment steps of uniform random actions before the first update."""
    updates_per_step: float = 1.0
    """Gradient updates per environment step."""
    eps_start: float = 1.0
    """ε: the probability of random scores at the first step..."""
    eps_end: float = 0.01
    """...decaying linearly to this..."""
    exploration_steps: int = 10_000
    """...over this many environment steps."""
    param_noise: float = 0.1
    """σ of the Gaussian noise on the parameters when exploring, in their [-1, 1] units."""
    max_grad_norm: float = 10.0
    """Clip each network's gradient norm to this (0: no clipping)."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        check(len(self.hidden_sizes) >= 1 and all(h > 0 for h in self.hidden_sizes),
              f"hidden_sizes must be one or more positive widths, got {self.hidden_sizes}")
        for name in ("actor_lr", "critic_lr"):
            check(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        check(1 <= self.batch_size <= self.buffer_size,
              f"batch_size must be in [1, buffer_size ({self.buffer_size})], got {self.batch_size}")
        check(0.0 <= self.gamma <= 1.0, f"gamma must be in [0, 1], got {self.gamma}")
        check(0.0 < self.tau <= 1.0, f"tau must be in (0, 1], got {self.tau}")
        check(self.learning_starts >= 0, f"learning_starts must be >= 0, got {self.learning_starts}")
        check(self.updates_per_step > 0, f"updates_per_step must be > 0, got {self.updates_per_step}")
        check(0.0 <= self.eps_end <= self.eps_start <= 1.0,
              f"need 0 <= eps_end <= eps_start <= 1, got eps_start {self.eps_start}, eps_end {self.eps_end}")
        check(self.exploration_steps >= 1, f"exploration_steps must be >= 1, got {self.exploration_steps}")
        check(self.param_noise >= 0, f"param_noise must be >= 0, got {self.param_noise}")
        check(self.max_grad_norm >= 0, f"max_grad_norm must be >= 0, got {self.max_grad_norm}")


def flat_action(index: np.ndarray, params: np.ndarray, num_actions: int) -> np.ndarray:
    """The flat vector of a hybrid action the actor did not emit (e.g. a random warm-up action):
    score +1 for the chosen action, -1 for the others, then the parameters. [N] and [N, P] -> [N, K + P]."""
    scores = np.full((len(index), num_actions), -1.0, np.float32)
    scores[np.arange(len(index)), np.asarray(index, np.int64)] = 1.0
    return np.concatenate([scores, np.asarray(params, np.float32)], 1)


class PADDPGAgent:
    """μ_φ (linear outputs), Q_θ, their targets and optimizers."""

    algo = "paddpg"
    metric_names = ("loss_q", "q_mean", "loss_pi")

    def __init__(self, cfg: PADDPGConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.losses = named_losses({"critic": td3_critic_loss}, losses, "paddpg")
        self.io = HybridActions(spaces, self.device)
        o, dim, d = spaces.obs_dim, spaces.num_actions + spaces.param_dim, self.device
        self.actor, self.actor_target = mlp(o, cfg.hidden_sizes, dim).to(d), mlp(o, cfg.hidden_sizes, dim).to(d)
        self.critic = EnsembleCritic(1, o, dim, cfg.hidden_sizes).to(d)
        self.critic_target = EnsembleCritic(1, o, dim, cfg.hidden_sizes).to(d)
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.actor_target.requires_grad_(False)
        self.critic_target.requires_grad_(False)
        self.actor_opt, self.critic_opt = adam(self.actor.parameters(), cfg.actor_lr), adam(self.critic.parameters(), cfg.critic_lr)
        self.num_updates = 0
        self._last_pi = torch.zeros((), device=d)
        self._acted: tuple | None = None

    def _split(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.spaces.num_actions
        return flat[:, :k].argmax(1), flat[:, k:]

    @torch.no_grad()
    def q_value(self, obs: torch.Tensor, index: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Q_θ(s, a) [B] of hybrid actions, as the flat vectors `flat_action` makes of them."""
        flat = flat_action(index.cpu().numpy(), params.cpu().numpy(), self.spaces.num_actions)
        return self.critic(obs, torch.as_tensor(flat, device=self.device))[0]

    @torch.no_grad()
    def _act(self, obs: np.ndarray, eps: float, noise: float):
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        flat = self.actor(o).clamp(-1.0, 1.0)                                        # [N, K + P]
        k = self.spaces.num_actions
        if eps > 0:
            random = torch.rand(flat.shape[0], 1, device=self.device) < eps
            flat[:, :k] = torch.where(random, torch.rand_like(flat[:, :k]) * 2 - 1, flat[:, :k])
        if noise > 0:
            flat[:, k:] = (flat[:, k:] + noise * torch.randn_like(flat[:, k:])).clamp(-1.0, 1.0)
        env_action = self.io.to_env(*self._split(flat))
        self._acted = (env_action, flat.cpu().numpy())
        return env_action

    def act(self, obs: np.ndarray, deterministic: bool = False):
        """obs [N, O] -> (indices [N], parameters in the environment's bounds [N, P])."""
        return self._act(obs, *((0.0, 0.0) if deterministic else (self.cfg.eps_end, self.cfg.param_noise)))

    def explore(self, obs: np.ndarray, step: int):
        cfg = self.cfg
        return self._act(obs, linear_epsilon(step, cfg.eps_start, cfg.eps_end, cfg.exploration_steps), cfg.param_noise)

    def to_policy_space(self, env_action) -> HybridAction:
        """Index, parameters in [-1, 1], and the flat vector the actor emitted for it (`flat_action`
        for an action it did not emit)."""
        stored = self.io.to_policy_space(env_action)
        if self._acted is not None and env_action is self._acted[0]:
            return stored._replace(policy_action=self._acted[1])
        return stored._replace(policy_action=flat_action(stored.index, stored.params, self.spaces.num_actions))

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        flat = Batch(batch.obs, batch.policy_action, batch.reward, batch.next_obs, batch.terminated, batch.discount)
        with torch.no_grad():
            next_action = self.actor_target(batch.next_obs).clamp(-1.0, 1.0)
        loss_q, info = self.losses["critic"](self.critic, self.critic_target, flat, next_action, cfg.gamma)
        optimizer_step(self.critic_opt, loss_q, self.critic.parameters(), cfg.max_grad_norm)
        self.critic.requires_grad_(False)
        loss_pi, _ = inverted_gradient_loss(lambda a: self.critic.member(0, batch.obs, a), self.actor(batch.obs))
        optimizer_step(self.actor_opt, loss_pi, self.actor.parameters(), cfg.max_grad_norm)
        self.critic.requires_grad_(True)
        soft_update(self.critic_target.parameters(), self.critic.parameters(), cfg.tau)
        soft_update(self.actor_target.parameters(), self.actor.parameters(), cfg.tau)
        self.num_updates += 1
        self._last_pi = loss_pi.detach()
        return {**info, "loss_pi": self._last_pi}

    NETS = ("actor", "actor_target", "critic", "critic_target", "actor_opt", "critic_opt")

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                **{k: getattr(self, k).state_dict() for k in self.NETS}, "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        for k in self.NETS:
            getattr(self, k).load_state_dict(state[k])
        self.num_updates = state["num_updates"]


def needs(cfg: PADDPGConfig) -> Transitions:
    return Transitions(cfg.batch_size, cfg.buffer_size, cfg.learning_starts, cfg.updates_per_step,
                       policy_action_dim=FLAT_HYBRID)


GOAL = {"batch_size": 128, "gamma": 0.95, "buffer_size": 20_000, "tau": 0.01, "critic_lr": 1e-3, "actor_lr": 1e-4,
        "hidden_sizes": (128, 64), "max_grad_norm": 1.0}
"""Bester et al.'s Goal run (run_goal_paddpg.py), except its learning rates (1e-6 and 1e-7 there, tuned
with its own target rate 1e-4), which keep Platform's here."""


SPEC = AlgoSpec("paddpg", PADDPGConfig, PADDPGAgent, "Parameterized-action DDPG (hybrid actions)", "transitions",
                hybrid_actions, needs, presets={"goal": GOAL},
                with_batch_size=lambda cfg, n: dataclasses.replace(cfg, batch_size=n))
