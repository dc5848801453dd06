"""Proximal Policy Optimization (Schulman et al. 2017), clipped-surrogate form, with GAE (Schulman et al. 2016).

    ratio         ρ_t(θ) = π_θ(a_t|s_t) / π_θold(a_t|s_t)
    policy loss   L^CLIP = -E_t[ min( ρ_t Â_t, clip(ρ_t, 1-ε, 1+ε) Â_t ) ]              (Eq. 7)
    value loss    L^VF   = E_t[ (V_θ(s_t) - V_t^targ)² ],  V^targ = Â + V_old            (Eq. 9)
                  (optionally clipped: max of that and (V_old + clip(V - V_old, ±ε_v) - V^targ)²)
    total         L = L^CLIP + c_1 L^VF - c_2 E_t[ H(π_θ(·|s_t)) ]                        (Eq. 9)
    advantages    Â_t = Σ_l (γλ)^l δ_{t+l},  δ_t = r_t + γ V(s_{t+1}) - V(s_t)            (GAE, Eq. 16; functional.gae)

Each iteration collects `rollout_steps` steps from each of `num_envs` copies, then runs
`epochs` passes of minibatch Adam over them. Defaults are the "37 implementation details"
settings (Huang et al. 2022; CleanRL's ppo_continuous_action), except the value term's weight (below): separate 64×64 tanh actor and
critic with orthogonal init, state-independent log σ, lr 3e-4 annealed linearly (iteration k of N uses lr · (1 - k/N)), advantages normalized
per minibatch, global gradient norm clipped at 0.5, running observation and reward normalization
clipped at 10 (their statistics are part of the agent and its checkpoints). Value clipping is off
by default, as in the PPO paper (Andrychowicz et al. 2021 found it does not help). L^VF is the plain
squared error of Eq. 9 (as Stable-Baselines3 computes it); CleanRL halves it, so with the same
c_1 = 0.5 keelrl's value term weighs twice CleanRL's (c_1 = 0.25 reproduces CleanRL's loss).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from keelrl.algos.spec import AlgoSpec, Rollouts, UpdateBranches, named_losses
from keelrl.data.normalization import ObservationNormalizer, RewardScaler
from keelrl.data.rollout import RolloutBuffer
from keelrl.envs.hybrid.actions import HybridActions
from keelrl.envs.spaces import box_or_discrete_actions
from keelrl.errors import KeelError, check
from keelrl.functional import gae
from keelrl.nn.mlp import mlp
from keelrl.optim import adam
from keelrl.types import Spaces


@dataclass
class PPOConfig:
    """PPO-Clip with GAE. Defaults: Huang et al. 2022 ("The 37 implementation details of PPO"), for MuJoCo."""

    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and of the (separate) critic; tanh activations."""
    lr: float = 3e-4
    """Adam learning rate (of actor and critic together)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly over the run: the update of iteration k (of N) uses lr · (1 - k/N)."""
    rollout_steps: int = 2048
    """Steps collected from each environment copy per iteration (the batch is rollout_steps × num_envs)."""
    num_minibatches: int = 32
    """Minibatches the batch is split into, per epoch."""
    epochs: int = 10
    """K: passes over each batch."""
    gamma: float = 0.99
    """Discount factor γ."""
    gae_lambda: float = 0.95
    """λ of GAE(γ, λ)."""
    clip_coef: float = 0.2
    """ε of the clipped surrogate objective."""
    clip_value: float | None = None
    """ε_v: clip the value prediction to within ±ε_v of the old value (None: no value clipping)."""
    normalize_advantage: bool = True
    """Normalize advantages to zero mean and unit std within each minibatch."""
    ent_coef: float = 0.0
    """c_2: weight of the entropy bonus."""
    vf_coef: float = 0.5
    """c_1: weight of the value loss. L^VF here is the plain mean squared error (Eq. 9, as SB3's), so 0.5 weighs the value term twice as much as CleanRL's vf_coef 0.5, which multiplies ½ of the squared error."""
    max_grad_norm: float | None = 0.5
    """Clip the global gradient norm (actor and critic together) to this (None: no clipping)."""
    normalize_obs: bool = True
    """Normalize observations by running mean and std (clipped to ±obs_clip)."""
    obs_clip: float = 10.0
    """Clip normalized observations to ±obs_clip."""
    normalize_reward: bool = True
    """Scale rewards by the running std of the discounted return (clipped to ±reward_clip)."""
    reward_clip: float = 10.0
    """Clip scaled rewards to ±reward_clip."""
    log_std_init: float = 0.0
    """Initial log σ of the Gaussian policy (continuous actions)."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        check(len(self.hidden_sizes) >= 1 and all(h > 0 for h in self.hidden_sizes),
              f"hidden_sizes must be one or more positive widths, got {self.hidden_sizes}")
        check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        check(self.rollout_steps >= 1, f"rollout_steps must be >= 1, got {self.rollout_steps}")
        check(self.num_minibatches >= 1, f"num_minibatches must be >= 1, got {self.num_minibatches}")
        check(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        check(0.0 <= self.gamma <= 1.0, f"gamma must be in [0, 1], got {self.gamma}")
        check(0.0 <= self.gae_lambda <= 1.0, f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        check(self.clip_coef > 0, f"clip_coef must be > 0, got {self.clip_coef}")
        check(self.clip_value is None or self.clip_value > 0, f"clip_value must be > 0 or None, got {self.clip_value}")
        check(self.ent_coef >= 0 and self.vf_coef >= 0, "ent_coef and vf_coef must be >= 0")
        check(self.max_grad_norm is None or self.max_grad_norm > 0, f"max_grad_norm must be > 0 or None, got {self.max_grad_norm}")
        check(self.obs_clip > 0 and self.reward_clip > 0, "obs_clip and reward_clip must be > 0")


# --------------------------------------------------------------------------- losses (pure functions)

def clipped_surrogate_loss(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantage: torch.Tensor,
                           clip_coef: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L^CLIP = -E[ min(ρ Â, clip(ρ, 1-ε, 1+ε) Â) ],  ρ = exp(log π - log π_old)  (Eq. 7). All inputs [B];
    or log-probabilities [B, H] of H policy heads, each with its own ratio and the H surrogates summed
    (H-PPO's discrete and continuous actors, Fan et al. 2019)."""
    assert log_prob.shape == old_log_prob.shape and log_prob.shape[0] == advantage.shape[0] and advantage.dim() == 1 \
        and log_prob.dim() in (1, 2), \
        f"shapes: log_prob {tuple(log_prob.shape)}, old {tuple(old_log_prob.shape)}, advantage {tuple(advantage.shape)}"
    if log_prob.dim() == 2:
        advantage = advantage[:, None]                                   # [B, 1]: one advantage, H ratios
    log_ratio = log_prob - old_log_prob
    ratio = log_ratio.exp()
    loss = -torch.min(ratio * advantage, ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef) * advantage).mean(0).sum()
    with torch.no_grad():  # diagnostics: KL(π_old || π) ≈ E[(ρ - 1) - log ρ] (Schulman's k3 estimator)
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip_coef).float().mean()
    return loss, {"loss_pi": loss.detach(), "approx_kl": approx_kl, "clip_fraction": clip_fraction}


def value_loss(value: torch.Tensor, target: torch.Tensor, old_value: torch.Tensor,
               clip_value: float | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L^VF = E[ (V - V^targ)² ], or with clipping E[ max((V - V^targ)², (V_old + clip(V - V_old, ±ε_v) - V^targ)²) ]. [B]."""
    assert value.shape == target.shape == old_value.shape and value.dim() == 1, "value, target, old_value must be [B]"
    err = (value - target).pow(2)
    if clip_value is not None:
        clipped = old_value + (value - old_value).clamp(-clip_value, clip_value)
        err = torch.max(err, (clipped - target).pow(2))
    loss = err.mean()
    return loss, {"loss_v": loss.detach()}


def ppo_loss(log_prob, old_log_prob, advantage, value, target, old_value, entropy, cfg: PPOConfig,
             losses: dict | None = None):
    """L = L^CLIP + c_1 L^VF - c_2 H  (Eq. 9), with advantages normalized per minibatch when asked.
    `losses` names the two terms' functions (default LOSSES: the clipped surrogate and the value loss)."""
    losses = LOSSES if losses is None else losses
    if cfg.normalize_advantage:
        advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    loss_pi, info = losses["policy"](log_prob, old_log_prob, advantage, cfg.clip_coef)
    loss_v, info_v = losses["value"](value, target, old_value, cfg.clip_value)
    loss = loss_pi + cfg.vf_coef * loss_v - cfg.ent_coef * entropy.mean()
    return loss, {**info, **info_v, "entropy": entropy.detach().mean()}


LOSSES = {"policy": clipped_surrogate_loss, "value": value_loss}
"""The loss terms PPOAgent.update combines by name in `ppo_loss`."""


# --------------------------------------------------------------------------- networks

def _ortho_mlp(in_dim: int, hidden, out_dim: int, out_gain: float) -> nn.Sequential:
    """tanh MLP with orthogonal weights (gain √2 in hidden layers, `out_gain` at the output), zero biases."""
    net = mlp(in_dim, hidden, out_dim, activation=nn.Tanh)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        nn.init.orthogonal_(layer.weight, out_gain if i == len(linears) - 1 else math.sqrt(2))
        nn.init.zeros_(layer.bias)
    return net


class PPOPolicy(nn.Module):
    """Separate actor and critic. Continuous: π(·|s) = N(μ(s), diag σ²) with a state-independent log σ;
    discrete: π(·|s) = Categorical(logits(s)). V(s) from its own MLP.

    Hybrid actions (H-PPO, Fan et al. 2019): two actors, π_d(k|s) = Categorical(logits(s)) and
    π_c(x|s) = N(μ(s), diag σ²) over the parameters of every discrete action; an action is
    [k | x] and has two log-probabilities, log π_d(k|s) and log π_c(x_k|s) over action k's own
    parameters (the others do not reach the environment)."""

    def __init__(self, obs_dim: int, action_space: gym.Space, cfg, param_slices=None) -> None:
        super().__init__()
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        self.hybrid = param_slices is not None
        if self.hybrid:
            k, p = int(action_space.spaces[0].n), int(action_space.spaces[1].shape[0])
            self.discrete_actor = _ortho_mlp(obs_dim, cfg.hidden_sizes, k, 0.01)
            masks = torch.zeros(k, p)
            for i, (a, b) in enumerate(param_slices):
                masks[i, a:b] = 1.0
            self.register_buffer("masks", masks)                       # [K, P]: action k's parameters
            out = p
        else:
            out = int(action_space.n) if self.discrete else action_space.shape[0]
        self.actor = _ortho_mlp(obs_dim, cfg.hidden_sizes, out, 0.01)
        self.critic = _ortho_mlp(obs_dim, cfg.hidden_sizes, 1, 1.0)
        self.log_std = None if self.discrete else nn.Parameter(torch.full((out,), cfg.log_std_init))

    def distribution(self, obs: torch.Tensor):
        out = self.actor(obs)
        if self.discrete:  # validate_args=False: the argument checks cost a host sync per call
            return Categorical(logits=out, validate_args=False)
        normal = Normal(out, self.log_std.exp().expand_as(out), validate_args=False)
        if self.hybrid:
            return Categorical(logits=self.discrete_actor(obs), validate_args=False), normal
        return normal

    def sample(self, dist) -> torch.Tensor:
        if self.hybrid:
            return torch.cat([dist[0].sample()[:, None].float(), dist[1].sample()], 1)    # [N, 1 + P]
        return dist.sample()

    def mode(self, dist) -> torch.Tensor:
        """The most likely action (deterministic acting)."""
        if self.hybrid:
            return torch.cat([dist[0].probs.argmax(-1, keepdim=True).float(), dist[1].mean], 1)
        return dist.probs.argmax(-1) if self.discrete else dist.mean

    def log_prob_entropy(self, dist, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.discrete:
            return dist.log_prob(action), dist.entropy()
        if self.hybrid:
            k = action[:, 0].long()
            own = self.masks[k]                                                              # [B, P]
            log_d, log_c = dist[0].log_prob(k), (dist[1].log_prob(action[:, 1:]) * own).sum(-1)
            return torch.stack([log_d, log_c], 1), dist[0].entropy() + (dist[1].entropy() * own).sum(-1)
        return dist.log_prob(action).sum(-1), dist.entropy().sum(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)


# --------------------------------------------------------------------------- agent

class PPOAgent:
    algo = "ppo"
    metric_names = ("loss_pi", "approx_kl", "clip_fraction", "loss_v", "entropy", "explained_variance", "lr")

    def __init__(self, cfg: PPOConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.losses = named_losses(LOSSES, losses, "ppo")
        obs_dim, action_space = spaces.obs_dim, spaces.action
        self.obs_dim, self.action_space = obs_dim, action_space
        self.policy = PPOPolicy(obs_dim, action_space, cfg, spaces.param_slices).to(self.device)
        self.opt = adam(self.policy.parameters(), cfg.lr, eps=1e-5)  # ε = 1e-5: the PPO implementations' (Huang et al. 2022)
        self.obs_normalizer = ObservationNormalizer(obs_dim, cfg.obs_clip) if cfg.normalize_obs else None
        self.reward_scaler: RewardScaler | None = None  # made by the loop, which knows num_envs
        self.num_updates = 0
        self.discrete, self.hybrid = self.policy.discrete, self.policy.hybrid
        if self.hybrid:
            self.io = HybridActions(spaces, self.device)
        elif not self.discrete:
            self._low, self._high = action_space.low.astype(np.float32), action_space.high.astype(np.float32)

    # ---- acting
    def normalize_obs(self, obs: np.ndarray, update: bool = False) -> torch.Tensor:
        obs = np.asarray(obs, np.float32)
        if self.obs_normalizer is not None:
            obs = self.obs_normalizer(obs, update)
        return torch.as_tensor(obs, dtype=torch.float32, device=self.device)

    def scale_reward(self, reward: np.ndarray, episode_end: np.ndarray) -> np.ndarray:
        if not self.cfg.normalize_reward:
            return np.asarray(reward, np.float32)
        if self.reward_scaler is None:
            self.reward_scaler = RewardScaler(len(reward), self.cfg.gamma, self.cfg.reward_clip)
        return self.reward_scaler(reward, episode_end)

    def to_env(self, action: torch.Tensor) -> np.ndarray:
        """Sampled actions -> what the env gets: clipped to the Box (the unclipped sample is what is learned
        from); hybrid: (indices, parameters mapped from [-1, 1] to the environment's bounds)."""
        if self.hybrid:
            return self.io.to_env(action[:, 0].long(), action[:, 1:])
        a = action.cpu().numpy()
        return a if self.discrete else np.clip(a, self._low, self._high)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalized obs [N, O] -> (action, log π(a|s), V(s))."""
        dist = self.policy.distribution(obs)
        action = self.policy.sample(dist)
        log_prob, _ = self.policy.log_prob_entropy(dist, action)
        return action, log_prob, self.policy.value(obs)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Raw env obs [N, O] -> env actions (deterministic: the mean, or the most likely action). The
        normalization statistics are used, not updated."""
        dist = self.policy.distribution(self.normalize_obs(obs))
        return self.to_env(self.policy.mode(dist) if deterministic else self.policy.sample(dist))

    # ---- learning
    def update(self, rollout: RolloutBuffer, progress_remaining: float) -> dict[str, torch.Tensor]:
        """K epochs of minibatch Adam on one rollout. progress_remaining in (0, 1] anneals the lr."""
        cfg = self.cfg
        lr = cfg.lr * progress_remaining if cfg.anneal_lr else cfg.lr
        for group in self.opt.param_groups:
            group["lr"] = lr
        t, n = rollout.steps, rollout.num_envs
        with torch.no_grad():
            next_value = self.policy.value(rollout.next_obs.view(t * n, -1)).view(t, n)
            advantage = gae(rollout.reward, rollout.value, next_value, rollout.terminated, rollout.episode_end,
                            cfg.gamma, cfg.gae_lambda)
            target = advantage + rollout.value
        flat = {"obs": rollout.obs.view(t * n, -1), "action": rollout.action.view(t * n, *rollout.action.shape[2:]),
                "log_prob": rollout.log_prob.view(t * n, *rollout.log_prob.shape[2:]), "value": rollout.value.view(-1),
                "advantage": advantage.view(-1), "target": target.view(-1)}
        size = t * n
        mb = max(size // cfg.num_minibatches, 1)
        params = list(self.policy.parameters())
        info: dict[str, torch.Tensor] = {}
        for _ in range(cfg.epochs):
            perm = torch.randperm(size, device=self.device)
            for start in range(0, size - mb + 1, mb):
                idx = perm[start:start + mb]
                dist = self.policy.distribution(flat["obs"][idx])
                log_prob, entropy = self.policy.log_prob_entropy(dist, flat["action"][idx])
                value = self.policy.value(flat["obs"][idx])
                loss, info = ppo_loss(log_prob, flat["log_prob"][idx], flat["advantage"][idx], value,
                                      flat["target"][idx], flat["value"][idx], entropy, cfg, self.losses)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(params, cfg.max_grad_norm, foreach=True)
                self.opt.step()
                self.num_updates += 1
        with torch.no_grad():  # how much of the targets' variance the old values explained
            var_y = flat["target"].var()
            # undefined when the targets do not vary (a constant-reward task): reported as 0, not NaN,
            # so that a diagnostic does not stop the run as diverged
            explained = 1.0 - (flat["target"] - flat["value"]).var() / var_y.clamp_min(1e-12)
            info["explained_variance"] = torch.where(var_y > 0, explained, torch.zeros_like(explained))
        info["lr"] = torch.full((), lr, device=self.device)  # on the device like the other metrics (they are stacked)
        return info

    # ---- persistence
    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                "policy": self.policy.state_dict(), "opt": self.opt.state_dict(), "num_updates": self.num_updates,
                "obs_rms": None if self.obs_normalizer is None else self.obs_normalizer.rms.state_dict(),
                "reward_scaler": None if self.reward_scaler is None else self.reward_scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        self.opt.load_state_dict(state["opt"])
        self.num_updates = state["num_updates"]
        if self.obs_normalizer is not None:
            self.obs_normalizer.rms.load_state_dict(state["obs_rms"])
        if state["reward_scaler"] is not None:
            returns = state["reward_scaler"]["returns"]
            self.reward_scaler = RewardScaler(len(returns), self.cfg.gamma, self.cfg.reward_clip)
            self.reward_scaler.load_state_dict(state["reward_scaler"])


# --------------------------------------------------------------------------- spec

def needs(cfg: PPOConfig) -> Rollouts:
    return Rollouts(cfg.rollout_steps, cfg.num_minibatches, cfg.epochs)


def check_run(run, cfg: PPOConfig) -> None:
    """What the Config alone cannot check: the minibatch size depends on the run's num_envs."""
    minibatch = cfg.rollout_steps * run.num_envs // cfg.num_minibatches
    if minibatch < 2:
        raise KeelError(f"rollout_steps × num_envs ({cfg.rollout_steps} × {run.num_envs}) split into num_minibatches="
                        f"{cfg.num_minibatches} leaves minibatches of {minibatch} sample; they need at least 2 "
                        f"(advantages are normalized per minibatch): raise rollout_steps or lower num_minibatches")


def with_batch_size(cfg: PPOConfig, batch_size: int) -> PPOConfig:
    """Minibatches of `batch_size` samples of a one-copy rollout (keel bench --batch-size)."""
    from dataclasses import replace
    return replace(cfg, num_minibatches=max(cfg.rollout_steps // batch_size, 1))


SPEC = AlgoSpec(
    "ppo", PPOConfig, PPOAgent, "Proximal Policy Optimization (continuous or discrete actions)", "rollouts",
    box_or_discrete_actions, needs, check_run=check_run, with_batch_size=with_batch_size,
    branches=lambda cfg: UpdateBranches(not_capturable=(
        "ppo's update is a rollout's epochs of shuffled minibatches with an annealed learning rate; "
        "train ppo without --cuda-graphs")))
