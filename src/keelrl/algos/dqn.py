"""Deep Q-Networks (Mnih et al. 2015) with the usual options: Double DQN (van Hasselt et al. 2016),
a dueling head (Wang et al. 2016) and n-step returns (Sutton 1988; as in Rainbow, Hessel et al. 2018).

    target          y = R^(m) + γ^m (1 - d) Q_θ'(s_{t+m}, a*)                        (Mnih et al. 2015, Eq. 2)
                    a* = argmax_a Q_θ'(s', a)     (DQN)
                    a* = argmax_a Q_θ(s', a)      (Double DQN: the online net picks, the target net values)
    loss            J = E[ ℓ(Q_θ(s, a) - y) ],  ℓ = Huber (δ = 1) or ½ x²
    target network  every C updates, θ' ← τ θ + (1 - τ) θ'  (τ = 1: the paper's hard copy)
    exploration     ε-greedy, ε linear from ε_start to ε_end over the first `exploration_steps` steps

Defaults are the RL Baselines3 Zoo's tuned CartPole-v1 settings (docs/algorithms/dqn.md lists them
beside the Nature paper's Atari settings): every 256 steps, 128 updates (the first burst, at step
1024, pays only the 12 owed since learning_starts), and a target copy after every 128th update, which
falls after the 116th update of each burst from the second on.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from keelrl.algos.spec import AlgoSpec, Transitions, UpdateBranches, named_losses
from keelrl.envs.spaces import discrete_actions
from keelrl.errors import check
from keelrl.functional import hard_update, soft_update
from keelrl.nn.qnets import QNetwork
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


MAX_N_STEP = 1000
"""The longest n-step return DQN accepts (γ^1000 < 1e-4 at γ = 0.99)."""


@dataclass
class DQNConfig:
    """DQN for discrete actions, with Double DQN, dueling and n-step options. Defaults: the RL Baselines3 Zoo's CartPole-v1 tuning."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the Q-network."""
    lr: float = 2.3e-3
    """Adam learning rate."""
    batch_size: int = 64
    """Transitions per gradient update."""
    buffer_size: int = 100_000
    """Replay buffer capacity, in transitions."""
    gamma: float = 0.99
    """Discount factor γ."""
    learning_starts: int = 1000
    """Environment steps taken with uniform random actions before the first update."""
    updates_per_step: float = 0.5
    """Gradient updates per environment step (the Nature paper: 0.25, one update every 4 steps)."""
    update_every: int = 256
    """Pay the owed updates in bursts every this many environment steps (SB3's train_freq; 1: spread evenly)."""
    target_update_period: int = 128
    """C: update the target network every this many gradient updates."""
    tau: float = 1.0
    """Target update θ' ← τθ + (1-τ)θ' every C updates: 1.0 is the hard copy of the paper, < 1 Polyak averaging."""
    loss: Literal["huber", "mse"] = "huber"
    """Regression loss on the TD error: Huber with δ = 1 (the paper's error clipping) or ½ x²."""
    double_q: bool = False
    """Double DQN: the online network chooses a* = argmax_a Q_θ(s', a), the target network values it."""
    dueling: bool = False
    """Dueling head: Q = V + A - mean(A)."""
    n_step: int = 1
    """n of the n-step (at most 1000) return R^(n) = Σ_{k<n} γ^k r_{t+k}, bootstrapping with γ^n (shorter at episode ends)."""
    eps_start: float = 1.0
    """ε at the first step."""
    eps_end: float = 0.04
    """ε after `exploration_steps`."""
    exploration_steps: int = 8000
    """Environment steps over which ε decays linearly from eps_start to eps_end."""
    max_grad_norm: float | None = 10.0
    """Clip the gradient's global norm to this (None: no clipping)."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        check(len(self.hidden_sizes) >= 1 and all(h > 0 for h in self.hidden_sizes),
              f"hidden_sizes must be one or more positive widths, got {self.hidden_sizes}")
        check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(self.batch_size <= self.buffer_size, f"batch_size ({self.batch_size}) must not exceed buffer_size ({self.buffer_size})")
        check(0.0 <= self.gamma <= 1.0, f"gamma must be in [0, 1], got {self.gamma}")
        check(self.learning_starts >= 0, f"learning_starts must be >= 0, got {self.learning_starts}")
        check(self.updates_per_step > 0, f"updates_per_step must be > 0, got {self.updates_per_step}")
        check(self.update_every >= 1, f"update_every must be >= 1, got {self.update_every}")
        check(self.target_update_period >= 1, f"target_update_period must be >= 1, got {self.target_update_period}")
        check(0.0 < self.tau <= 1.0, f"tau must be in (0, 1], got {self.tau}")
        check(self.loss in ("huber", "mse"), f"loss must be huber or mse, got {self.loss!r}")
        check(1 <= self.n_step <= MAX_N_STEP and self.n_step <= self.buffer_size,
              f"n_step must be between 1 and {MAX_N_STEP} (and at most buffer_size), got {self.n_step}: "
              f"γ^n of a longer return is negligible and the pending transitions would fill memory; 1-10 is usual")
        for name in ("eps_start", "eps_end"):
            check(0.0 <= getattr(self, name) <= 1.0, f"{name} must be in [0, 1], got {getattr(self, name)}")
        check(self.exploration_steps >= 0, f"exploration_steps must be >= 0, got {self.exploration_steps}")
        check(self.max_grad_norm is None or self.max_grad_norm > 0,
              f"max_grad_norm must be > 0 or None, got {self.max_grad_norm}")


# --------------------------------------------------------------------------- losses (pure functions)

def q_target(reward: torch.Tensor, terminated: torch.Tensor, discount: torch.Tensor, q_next_target: torch.Tensor,
             q_next_online: torch.Tensor | None = None) -> torch.Tensor:
    """y = r + γ^m (1 - d) Q_θ'(s', a*), a* = argmax Q_θ'(s', ·), or argmax Q_θ(s', ·) when
    q_next_online is given (Double DQN, van Hasselt et al. 2016, Eq. 4).

    reward, terminated [B]; discount [B] (γ, or γ^m for m-step transitions); q_next_* [B, K].
    """
    assert q_next_target.dim() == 2 and reward.shape == terminated.shape == discount.shape == q_next_target.shape[:1], \
        f"shapes: reward {tuple(reward.shape)}, q_next {tuple(q_next_target.shape)}"
    chooser = q_next_target if q_next_online is None else q_next_online
    a_star = chooser.argmax(-1, keepdim=True)
    value = q_next_target.gather(-1, a_star).squeeze(-1)
    return reward + discount * (1.0 - terminated) * value


def q_regression_loss(q_sa: torch.Tensor, target: torch.Tensor, kind: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """J = E_B[ ℓ(Q(s, a) - y) ] with ℓ Huber (δ = 1) or ½ x². q_sa, target [B]; target has no gradient."""
    assert q_sa.shape == target.shape and q_sa.dim() == 1, f"shapes: q {tuple(q_sa.shape)}, target {tuple(target.shape)}"
    if kind == "huber":
        loss = F.smooth_l1_loss(q_sa, target)
    else:
        loss = 0.5 * (q_sa - target).pow(2).mean()
    return loss, {"loss_q": loss.detach(), "q_mean": q_sa.detach().mean()}


def linear_epsilon(step: int, start: float, end: float, duration: int) -> float:
    """ε(t) = start + (end - start) · min(1, t / duration)."""
    if duration <= 0:
        return end
    return start + (end - start) * min(1.0, step / duration)


# --------------------------------------------------------------------------- agent

LOSSES = {"q": q_regression_loss}
"""The losses DQNAgent.update calls by name."""


class DQNAgent:
    algo = "dqn"
    metric_names = ("loss_q", "q_mean")

    def __init__(self, cfg: DQNConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.losses = named_losses(LOSSES, losses, "dqn")
        obs_dim, num_actions = spaces.obs_dim, spaces.num_actions
        self.num_actions = num_actions
        self.q = QNetwork(obs_dim, num_actions, cfg.hidden_sizes, cfg.dueling).to(self.device)
        self.q_target = QNetwork(obs_dim, num_actions, cfg.hidden_sizes, cfg.dueling).to(self.device)
        self.q_target.load_state_dict(self.q.state_dict())
        self.q_target.requires_grad_(False)
        self.opt = adam(self.q.parameters(), cfg.lr)
        self.num_updates = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Greedy actions argmax_a Q(s, a): obs [N, O] -> [N] int64."""
        q = self.q(torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device))
        return q.argmax(-1).cpu().numpy()

    def explore(self, obs: np.ndarray, step: int) -> np.ndarray:
        """ε-greedy at env step `step`: each copy acts uniformly at random with probability ε(step)."""
        eps = linear_epsilon(step, self.cfg.eps_start, self.cfg.eps_end, self.cfg.exploration_steps)
        greedy = self.act(obs)
        n = greedy.shape[0]
        random_mask = (torch.rand(n) < eps).numpy()
        random_actions = torch.randint(0, self.num_actions, (n,)).numpy()
        return np.where(random_mask, random_actions, greedy)

    def to_policy_space(self, env_action: np.ndarray) -> np.ndarray:
        return np.asarray(env_action, dtype=np.int64)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        discount = batch.discount if batch.discount is not None else torch.full_like(batch.reward, cfg.gamma)
        with torch.no_grad():
            q_next_online = self.q(batch.next_obs) if cfg.double_q else None
            y = q_target(batch.reward, batch.terminated, discount, self.q_target(batch.next_obs), q_next_online)
        q_sa = self.q(batch.obs).gather(-1, batch.action.long().unsqueeze(-1)).squeeze(-1)
        loss, info = self.losses["q"](q_sa, y, cfg.loss)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.q.parameters(), cfg.max_grad_norm, foreach=True)
        self.opt.step()
        self.num_updates += 1
        if self.num_updates % cfg.target_update_period == 0:
            if cfg.tau == 1.0:
                hard_update(self.q_target.parameters(), self.q.parameters())
            else:
                soft_update(self.q_target.parameters(), self.q.parameters(), cfg.tau)
        return info

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                "q": self.q.state_dict(), "q_target": self.q_target.state_dict(), "opt": self.opt.state_dict(),
                "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        self.q.load_state_dict(state["q"])
        self.q_target.load_state_dict(state["q_target"])
        self.opt.load_state_dict(state["opt"])
        self.num_updates = state["num_updates"]


def needs(cfg: DQNConfig) -> Transitions:
    return Transitions(cfg.batch_size, cfg.buffer_size, cfg.learning_starts, cfg.updates_per_step, cfg.update_every,
                       cfg.n_step, cfg.gamma)


SPEC = AlgoSpec("dqn", DQNConfig, DQNAgent, "DQN, with Double / dueling / n-step options (discrete actions)",
                "transitions", discrete_actions, needs,
                branches=lambda cfg: UpdateBranches(periods=(cfg.target_update_period,)))
