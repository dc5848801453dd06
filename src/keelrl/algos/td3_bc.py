"""TD3+BC (Fujimoto & Gu 2021, "A Minimalist Approach to Offline Reinforcement Learning").

TD3 on a fixed dataset, with one change to the actor and one to the data:

    actor loss   π = argmax_π E_(s,a)~D[ λ Q(s, π(s)) - (π(s) - a)² ],  λ = α / ( (1/N) Σ |Q(s_i, a_i)| )   (Eq. 3)
    states       s ← (s - μ) / (σ + ε), μ and σ over the dataset's states                         (Eq. 4)

λ normalizes Q's scale out of the trade-off; it is computed on the batch and carries no
gradient. The critics are TD3's (`td3_critic_loss`, target smoothing, delayed actor and targets).
Defaults are the paper's / CORL's (α = 2.5, ε = 1e-3, TD3's settings).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from keelrl.algos.spec import AlgoSpec, DatasetNeeds, UpdateBranches, named_losses
from keelrl.algos.td3 import DeterministicActorCritic, smoothed_target_action, td3_critic_loss
from keelrl.envs.spaces import continuous_actions
from keelrl.data.normalization import FixedNormalizer
from keelrl.algos.config_checks import check_shared_fields
from keelrl.errors import check
from keelrl.types import Batch, Spaces


@dataclass
class TD3BCConfig:
    """TD3+BC. Defaults are the paper's (Fujimoto & Gu 2021), which CORL keeps on every MuJoCo task."""

    hidden_sizes: tuple[int, ...] = (256, 256)
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
    """Polyak coefficient of the target networks."""
    num_critics: int = 2
    """Critics in the ensemble (2: clipped double-Q)."""
    policy_noise: float = 0.2
    """σ̃: std of the target policy smoothing noise (policy units)."""
    noise_clip: float = 0.5
    """c: the smoothing noise is clipped to [-c, c]."""
    policy_delay: int = 2
    """Update the actor and the target networks every this many critic updates."""
    bc_alpha: float = 2.5
    """α in λ = α / mean|Q|: the weight of the Q term against behavior cloning (Eq. 3)."""
    normalize_obs: bool = True
    """Standardize states with the dataset's mean and std (+1e-3), also when acting (Eq. 4)."""

    def __post_init__(self) -> None:
        check_shared_fields(self)
        check(self.policy_noise >= 0 and self.noise_clip >= 0, "policy_noise and noise_clip must be >= 0")
        check(self.policy_delay >= 1, f"policy_delay must be >= 1, got {self.policy_delay}")
        check(self.bc_alpha >= 0, f"bc_alpha must be >= 0, got {self.bc_alpha}")


def td3_bc_actor_loss(q_pi: torch.Tensor, pi_action: torch.Tensor, action: torch.Tensor,
                      alpha: float) -> tuple[torch.Tensor, dict]:
    """-λ E[Q(s, π(s))] + E[(π(s) - a)²], λ = α / E|Q(s, π(s))| (no gradient through λ)  (Eq. 3).

    q_pi [B] (Q_1 at the policy's actions, as in the authors' code); pi_action, action [B, A]. The
    squared error is averaged over the batch and the action dimensions, as the authors' mse_loss.
    """
    assert q_pi.dim() == 1 and pi_action.shape == action.shape and action.shape[0] == q_pi.shape[0], \
        f"shapes: q {tuple(q_pi.shape)}, pi {tuple(pi_action.shape)}, a {tuple(action.shape)}"
    lam = alpha / q_pi.abs().mean().detach()
    bc = (pi_action - action).pow(2).mean()
    loss = -lam * q_pi.mean() + bc
    return loss, {"loss_pi": loss.detach(), "loss_bc": bc.detach(), "lambda": lam.detach()}


LOSSES = {"critic": td3_critic_loss, "actor": td3_bc_actor_loss}
"""The losses TD3BCAgent.update calls by name."""


class TD3BCAgent:
    algo = "td3_bc"
    metric_names = ("loss_q", "q_mean", "loss_pi", "loss_bc", "lambda")

    def __init__(self, cfg: TD3BCConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg = cfg
        self.losses = named_losses(LOSSES, losses, "td3_bc")
        self.ac = DeterministicActorCritic(cfg, cfg.num_critics, spaces, device, self.losses)
        self.device = self.ac.device
        self.obs_norm = FixedNormalizer(spaces.obs_dim, self.device)
        zero = torch.zeros((), device=self.device)
        self._last_pi = {"loss_pi": zero, "loss_bc": zero.clone(), "lambda": zero.clone()}

    @property
    def num_updates(self) -> int:
        return self.ac.num_updates

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """obs [N, O] -> env-space actions μ(s) [N, A] (offline agents have no exploration noise)."""
        return self.ac.bounds.to_env(self.ac.actor(self.obs_norm(obs)))

    def set_obs_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Act on states standardized as the dataset was (Eq. 4)."""
        self.obs_norm.set(mean, std)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg, ac = self.cfg, self.ac
        with torch.no_grad():
            next_action = smoothed_target_action(ac.actor_target, batch.next_obs, cfg.policy_noise, cfg.noise_clip)
        info = ac.critic_step(batch, next_action)
        ac.num_updates += 1
        if ac.num_updates % cfg.policy_delay == 0:  # delayed actor and target updates, as TD3
            ac.critic.requires_grad_(False)
            pi = ac.actor(batch.obs)
            loss_pi, self._last_pi = self.losses["actor"](ac.critic.member(0, batch.obs, pi), pi, batch.action, cfg.bc_alpha)
            ac.actor_opt.zero_grad(set_to_none=True)
            loss_pi.backward()
            ac.actor_opt.step()
            ac.critic.requires_grad_(True)
            ac.update_targets()
        return {**info, **self._last_pi}

    def state_dict(self) -> dict:
        return {**self.ac.state_dict(), "obs_norm": self.obs_norm.state_dict(),
                "last_pi": {k: v.detach().cpu() for k, v in self._last_pi.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.ac.load_state_dict(state)
        self.obs_norm.load_state_dict(state["obs_norm"])
        self._last_pi = {k: v.to(self.device) for k, v in state["last_pi"].items()}


def needs(cfg: TD3BCConfig) -> DatasetNeeds:
    return DatasetNeeds(cfg.batch_size, normalize_obs=cfg.normalize_obs)


SPEC = AlgoSpec("td3_bc", TD3BCConfig, TD3BCAgent, "TD3+BC (offline)", "dataset", continuous_actions, needs,
                branches=lambda cfg: UpdateBranches(periods=(cfg.policy_delay,)),
                renamed={"alpha": "bc_alpha"})   # `alpha` until keelrl 0.1: SAC's and CQL's --alpha is a temperature
