"""SAC from pixels: a convolutional encoder trained through the critic's loss, SAC on its features
(Yarats et al. 2019, "Improving Sample Efficiency in Model-Free RL from Images", the SAC:pixel
baseline and the actor-critic half of SAC-AE; CURL and DrQ build on the same agent).

    features       h = f_ξ(o)  (ConvEncoder: 4 convolutions, linear, LayerNorm, tanh; 50 features)
    critic loss    J_Q(θ, ξ) = E[ ½ (Q_θ(f_ξ(o), a) - y)² ],  y = r + γ (1 - d) (min_i Q̄_i(f_ξ̄(o'), a') - α log π(a'|·))
    actor loss     J_π = E[ α log π(a | sg(h)) - min_i Q_i(sg(h), a) ]      (sg: no gradient into the encoder)
    temperature    J(α) = E[ -α log π(a|·) - α H̄ ]

The encoder learns only from J_Q (the actor reads its features without training it), and a target
encoder f_ξ̄ follows it by Polyak averaging with its own, faster, τ_enc. Each loss is SAC's
(algos/sac.py); what this module adds is the encoder and where its gradients come from.
`augment = shift` applies DrQ's random shift (pad 4, crop back) to o and o' of every update.

`PixelSACAgent` is also the agent CURL (algos/curl_sac.py) adds its contrastive loss to.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from keelrl.algos.config_checks import check_shared_fields
from keelrl.algos.sac import actor_loss_reparametrized, backup_values, critic_loss, soft_q_target, temperature_loss
from keelrl.algos.spec import AlgoSpec, Transitions, UpdateBranches, named_losses
from keelrl.data.augment import random_shift
from keelrl.envs.action_bounds import ActionBounds
from keelrl.envs.spaces import pixels_continuous_actions
from keelrl.errors import check
from keelrl.functional import seed_from_torch, soft_update
from keelrl.nn.actors import TanhGaussianActor
from keelrl.nn.ensemble import EnsembleCritic
from keelrl.nn.pixel_encoder import ConvEncoder
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


@dataclass
class PixelSACConfig:
    """SAC on a convolutional encoder of pixel observations. Defaults: SAC-AE's (Yarats et al. 2019,
    Table 3) and CURL's: 50 features, 1024x1024 heads, Adam 1e-3 (α: 1e-4), batch 128, α0 = 0.1,
    critic τ 0.01 and encoder τ 0.05 every 2 updates, the actor every 2 updates."""

    feature_dim: int = 50
    """Features of the encoder, the input of the actor and the critics."""
    encoder_layers: int = 4
    """3x3 convolutions of the encoder (the first with stride 2)."""
    encoder_filters: int = 32
    """Channels of each convolution."""
    hidden_sizes: tuple[int, ...] = (1024, 1024)
    """Hidden widths of the actor and of each critic, on the features."""
    actor_lr: float = 1e-3
    """Adam learning rate of the policy."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critics and of the encoder (trained through the critic loss)."""
    alpha_lr: float = 1e-4
    """Adam learning rate of log α."""
    alpha: float = 0.1
    """Initial temperature α (learned against H̄ = -|A|)."""
    batch_size: int = 128
    """Transitions per update."""
    buffer_size: int = 100_000
    """Replay capacity, in frames (each frame stored once)."""
    gamma: float = 0.99
    """Discount factor γ."""
    learning_starts: int = 1000
    """Environment steps of uniform random actions before the first update."""
    updates_per_step: float = 1.0
    """Updates per environment step."""
    tau: float = 0.01
    """Polyak coefficient of the target critics."""
    encoder_tau: float = 0.05
    """Polyak coefficient of the target encoder."""
    target_update_period: int = 2
    """Update the target critics and encoder every this many updates."""
    actor_update_period: int = 2
    """Update the actor and α every this many updates."""
    augment: Literal["none", "shift"] = "none"
    """Image augmentation of every update's o and o': `none`, or `shift` (DrQ: pad 4, random crop back)."""
    log_std_min: float = -10.0
    """Lower clamp of the policy's log σ (SAC-AE's)."""
    log_std_max: float = 2.0
    """Upper clamp of the policy's log σ."""

    def __post_init__(self) -> None:
        check_shared_fields(self)
        for name in ("feature_dim", "encoder_layers", "encoder_filters", "buffer_size", "target_update_period",
                     "actor_update_period"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        check(self.alpha > 0, f"alpha must be > 0 (it is learned from there), got {self.alpha}")
        check(0.0 < self.encoder_tau <= 1.0, f"encoder_tau must be in (0, 1], got {self.encoder_tau}")
        check(self.learning_starts >= 0 and self.updates_per_step > 0,
              "learning_starts must be >= 0 and updates_per_step > 0")
        check(self.augment in ("none", "shift"), f"augment must be none or shift, got {self.augment!r}")


LOSSES = {"critic": critic_loss, "actor": actor_loss_reparametrized, "temperature": temperature_loss}
"""SAC's losses, called by name (algos/sac.py)."""


def _pixels(obs: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (or float) frames [N, C, H, W] -> float32 pixel values on the device."""
    return torch.as_tensor(np.asarray(obs), device=device).float()


class PixelSACAgent:
    algo = "pixel_sac"
    metric_names = ("loss_q", "q_mean", "loss_pi", "entropy", "loss_alpha", "alpha")

    def __init__(self, cfg: PixelSACConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.losses = named_losses(LOSSES, losses, self.algo)
        d, (c, h, _), act_dim = self.device, spaces.observation.shape, spaces.act_dim
        self.encoder = ConvEncoder(c, h, cfg.feature_dim, cfg.encoder_layers, cfg.encoder_filters).to(d)
        self.encoder_target = copy.deepcopy(self.encoder).requires_grad_(False)
        self.actor = TanhGaussianActor(cfg.feature_dim, act_dim, cfg.hidden_sizes, cfg.log_std_min, cfg.log_std_max).to(d)
        self.critic = EnsembleCritic(2, cfg.feature_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(float(np.log(cfg.alpha)), device=d, requires_grad=True)
        self.target_entropy = -float(act_dim)
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        self.critic_opt = adam([*self.critic.parameters(), *self.encoder.parameters()], cfg.critic_lr)
        self.alpha_opt = adam([self.log_alpha], cfg.alpha_lr)
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, d)
        self.aug_generator = torch.Generator(device=d)
        self.aug_generator.manual_seed(seed_from_torch())   # from the run's seed (the loop seeds torch first)
        self.num_updates = 0
        zero = torch.zeros((), device=d)
        self._last_pi = {"loss_pi": zero, "entropy": zero.clone(), "loss_alpha": zero.clone(),
                         "alpha": self.log_alpha.detach().exp()}

    # ---- acting
    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """frames [N, C, H, W] -> env-space actions [N, A]."""
        dist = self.actor(self.encoder(_pixels(obs, self.device)))
        return self.bounds.to_env(dist.mode if deterministic else dist.rsample()[0])

    def explore(self, obs: np.ndarray, step: int) -> np.ndarray:
        return self.act(obs)

    def to_policy_space(self, env_action: np.ndarray) -> np.ndarray:
        return self.bounds.to_policy(env_action)

    # ---- learning
    def augmented(self, frames: torch.Tensor) -> torch.Tensor:
        return random_shift(frames, 4, self.aug_generator) if self.cfg.augment == "shift" else frames

    def critic_step(self, obs: torch.Tensor, batch: Batch, next_obs: torch.Tensor, alpha: torch.Tensor) -> dict:
        """J_Q through the encoder: one Adam step of the critics and the encoder. Returns the metrics."""
        with torch.no_grad():
            next_a, next_logp, _ = self.actor(self.encoder(next_obs)).rsample()              # [B, A], [B]
            q_next = self.critic_target(self.encoder_target(next_obs), next_a).unsqueeze(1)  # [2, 1, B]
            y = soft_q_target(batch.reward, batch.terminated, backup_values(q_next, "min"),  # [1, B]
                              next_logp.unsqueeze(0), alpha, self.cfg.gamma, True)
        loss_q, info = self.losses["critic"](self.critic(self.encoder(obs), batch.action), y)
        self.critic_opt.zero_grad(set_to_none=True)
        loss_q.backward()
        self.critic_opt.step()
        return info

    def actor_step(self, features: torch.Tensor, alpha: torch.Tensor) -> dict:
        """J_π and J(α) on features the encoder is not trained through."""
        self.critic.requires_grad_(False)
        a, logp, _ = self.actor(features).rsample()                                          # [B, A], [B]
        q_pi = self.critic(features, a).min(0).values                                       # [B]
        loss_pi, info = self.losses["actor"](q_pi.unsqueeze(0), logp.unsqueeze(0), alpha)   # K = 1 sample
        self.actor_opt.zero_grad(set_to_none=True)
        loss_pi.backward()
        self.actor_opt.step()
        self.critic.requires_grad_(True)
        loss_alpha, info_alpha = self.losses["temperature"](self.log_alpha, logp, self.target_entropy)
        self.alpha_opt.zero_grad(set_to_none=True)
        loss_alpha.backward()
        self.alpha_opt.step()
        return {**info, **info_alpha}

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        alpha = self.log_alpha.detach().exp()
        obs, next_obs = self.augmented(batch.obs), self.augmented(batch.next_obs)
        info = self.critic_step(obs, batch, next_obs, alpha)
        self.num_updates += 1
        if self.num_updates % cfg.actor_update_period == 0:
            with torch.no_grad():
                features = self.encoder(obs)
            self._last_pi = self.actor_step(features, alpha)
        if self.num_updates % cfg.target_update_period == 0:
            soft_update(self.critic_target.parameters(), self.critic.parameters(), cfg.tau)
            soft_update(self.encoder_target.parameters(), self.encoder.parameters(), cfg.encoder_tau)
        return {**info, **self._last_pi}

    # ---- persistence
    MODULES = ("encoder", "encoder_target", "actor", "critic", "critic_target")
    OPTIMIZERS = ("actor_opt", "critic_opt", "alpha_opt")

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                **{m: getattr(self, m).state_dict() for m in self.MODULES + self.OPTIMIZERS},
                "log_alpha": self.log_alpha.detach().cpu(), "num_updates": self.num_updates,
                "aug_generator": self.aug_generator.get_state(),
                "last_pi": {k: v.detach().cpu() for k, v in self._last_pi.items()}}

    def load_state_dict(self, state: dict) -> None:
        for m in self.MODULES + self.OPTIMIZERS:
            getattr(self, m).load_state_dict(state[m])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.num_updates = state["num_updates"]
        self.aug_generator.set_state(state["aug_generator"])
        self._last_pi = {k: v.to(self.device) for k, v in state["last_pi"].items()}


def needs(cfg: PixelSACConfig) -> Transitions:
    return Transitions(cfg.batch_size, cfg.buffer_size, cfg.learning_starts, cfg.updates_per_step)


def branches(cfg: PixelSACConfig) -> UpdateBranches:
    return UpdateBranches(periods=(cfg.actor_update_period, cfg.target_update_period))


SPEC = AlgoSpec("pixel_sac", PixelSACConfig, PixelSACAgent,
                "SAC from pixels: a convolutional encoder trained through the critic", "transitions",
                pixels_continuous_actions, needs, branches=branches)
