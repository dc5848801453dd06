"""Deep Deterministic Policy Gradient (Lillicrap et al. 2016) with the "OurDDPG" settings of
Fujimoto et al. 2018 (the TD3 paper's re-tuned DDPG baseline).

    target     y = r + γ (1 - d) Q_θ'(s', μ_φ'(s'))
    critic     J_Q = E[ (Q_θ(s, a) - y)² ]
    actor      J_μ = -E_s[ Q_θ(s, μ_φ(s)) ]              (deterministic policy gradient)
    targets    θ' ← τ θ + (1-τ) θ',  φ' ← τ φ + (1-τ) φ'  after every update

DDPG is TD3 without its three changes: one critic, the target action is μ_φ'(s') with no
smoothing noise, and the actor is updated every step. It reuses TD3's pure losses and its
actor-critic holder; only `update` is its own.

OurDDPG departs from the 2016 paper in the ways the TD3 paper lists: Gaussian exploration noise
N(0, 0.1²) instead of Ornstein-Uhlenbeck, 256×256 networks with the action entering the critic's
first layer, Adam 3e-4 for both networks, no L2 weight decay, batch 256, τ = 0.005.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from keelrl.algos import td3
from keelrl.algos.spec import AlgoSpec, named_losses
from keelrl.algos.td3 import DeterministicActorCritic, validate_deterministic_ac
from keelrl.envs.spaces import continuous_actions
from keelrl.types import Batch, Spaces


@dataclass
class DDPGConfig:
    """DDPG with the OurDDPG settings of Fujimoto et al. 2018 (sfujim/TD3, OurDDPG.py); learning_starts as keelrl's TD3."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor and of the critic."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy μ."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critic."""
    batch_size: int = 256
    """Transitions per gradient update."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity, in transitions."""
    gamma: float = 0.99
    """Discount factor γ."""
    tau: float = 0.005
    """Polyak coefficient of the target networks."""
    learning_starts: int = 5000
    """Environment steps taken with uniform random actions before the first update."""
    updates_per_step: float = 1.0
    """Gradient updates per environment step."""
    exploration_noise: float = 0.1
    """σ: std of the Gaussian noise added to μ(s) when acting, in the policy's [-1, 1] action units."""

    def __post_init__(self) -> None:
        validate_deterministic_ac(self)


class DDPGAgent:
    algo = "ddpg"
    metric_names = ("loss_q", "q_mean", "loss_pi")

    def __init__(self, cfg: DDPGConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg = cfg
        self.ac = DeterministicActorCritic(cfg, 1, spaces, device, named_losses(td3.LOSSES, losses, "ddpg"))
        self.device = self.ac.device

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
        ac = self.ac
        with torch.no_grad():
            next_action = ac.actor_target(batch.next_obs)        # μ_φ'(s'), no smoothing
        info = ac.critic_step(batch, next_action)
        info.update(ac.actor_step(batch))
        ac.update_targets()
        ac.num_updates += 1
        return info

    def state_dict(self) -> dict:
        return self.ac.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.ac.load_state_dict(state)


SPEC = AlgoSpec("ddpg", DDPGConfig, DDPGAgent, "DDPG, OurDDPG settings (continuous actions)", "transitions",
                continuous_actions, td3.needs)
