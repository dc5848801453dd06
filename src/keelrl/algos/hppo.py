"""H-PPO (Fan et al. 2019, "Hybrid Actor-Critic Reinforcement Learning in Parameterized Action
Space"): keelrl's PPO (algos/ppo.py) with two actors for hybrid actions, a discrete one π_d(k|s) and
a continuous one π_c(x|s) over every action's parameters, sharing one critic V(s):

    ρ_d = π_d(k|s) / π_d,old(k|s),   ρ_c = π_c(x_k|s) / π_c,old(x_k|s)   (x_k: action k's own parameters)
    L = L^CLIP(ρ_d) + L^CLIP(ρ_c) + c_1 L^VF - c_2 (H[π_d] + H[π_c restricted to x_k])

The two clipped surrogates share the advantage Â (GAE) and are summed (ppo.clipped_surrogate_loss
with [B, 2] log-probabilities); PPOPolicy's hybrid form holds the two actors. The rest is PPO's
update, unchanged. Defaults: the HyAR paper's H-PPO baseline (256×256, actor lr 1e-4, initial
log σ -0.5, rollouts of 50 steps... see docs/algorithms/hppo.md for what differs).
"""
from __future__ import annotations

from dataclasses import dataclass

from keelrl.algos.ppo import PPOAgent, PPOConfig, check_run, needs, with_batch_size
from keelrl.algos.spec import AlgoSpec, UpdateBranches
from keelrl.envs.spaces import hybrid_actions


@dataclass
class HPPOConfig(PPOConfig):
    """H-PPO: PPO's settings (algos/ppo.py) with defaults for the hybrid-action tasks."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of each actor and of the critic; tanh activations."""
    lr: float = 3e-4
    """Adam learning rate (of both actors and the critic together)."""
    rollout_steps: int = 512
    """Steps collected from each environment copy per iteration."""
    num_minibatches: int = 8
    """Minibatches the batch is split into, per epoch."""
    epochs: int = 10
    """K: passes over each batch."""
    normalize_obs: bool = False
    """The hybrid tasks' observations are already scaled to about [0, 1] or [-1, 1]."""
    normalize_reward: bool = False
    """The hybrid tasks' returns are already of order 1."""
    log_std_init: float = -0.5
    """Initial log σ of the parameters' Gaussian (the HyAR paper's code)."""
    ent_coef: float = 0.0
    """c_2: weight of the entropy bonus (both actors')."""


def hppo_agent(cfg: HPPOConfig, spaces, device="cpu", losses=None) -> PPOAgent:
    agent = PPOAgent(cfg, spaces, device, losses)
    agent.algo = "hppo"
    return agent


SPEC = AlgoSpec("hppo", HPPOConfig, hppo_agent, "Hybrid PPO: discrete and continuous actors (hybrid actions)",
                "rollouts", hybrid_actions, needs, check_run=check_run, with_batch_size=with_batch_size,
                branches=lambda cfg: UpdateBranches(not_capturable="hppo's update is PPO's: train it without --cuda-graphs"))
