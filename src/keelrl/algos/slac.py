"""SLAC: Stochastic Latent Actor-Critic (Lee, Nagabandi, Abbeel & Levine 2020).

A sequential latent variable model (nn/sequential_latent.py) is trained on sequences of frames,
actions and rewards by its ELBO; SAC learns on its latents:

    critic    Q_θ(z_t, a_t),  z_t = [z1_t, z2_t] ~ q(· | x_{0:t}, a_{0:t-1})   (posterior samples, no gradient)
              J_Q = E[ ½ (Q_θ(z_t, a_t) - (r_t + γ (1 - d_t) (min_i Q̄_i(z_{t+1}, a') - α log π(a' | h_{t+1}))))² ]
    actor     π_φ(a_t | h_t),  h_t = (f(x_{t-τ+1..t}), a_{t-τ+1..t-1})       features of the last τ frames and actions
              J_π = E[ α log π(a | h_t) - min_i Q_i(z_t, a) ],  a ~ π(· | h_t)
    α         J(α) = E[ -α log π(a | h_t) - α H̄ ],  H̄ = -|A|

On a sequence of T steps (frames 0..T), the critic learns the last step, T-1 -> T, and the actor acts
on the features of frames 0..T-1 and actions 0..T-2 (the next step's history: frames 1..T, actions
1..T-1): τ = T = 8, the paper's sequence length. The model is updated by the loop's side update
(`model_pretrain` updates when the random warm-up ends, then one per environment step), the
actor-critic by the main update, each on its own batch of sequences (model 32, actor-critic 256).
The actor's features come from the model's encoder, without gradient: only the ELBO trains the model.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch

from keelrl.algos.config_checks import check_shared_fields
from keelrl.algos.sac import backup_values, soft_q_target
from keelrl.algos.spec import AlgoSpec, SideUpdate, Transitions, UpdateBranches, named_losses
from keelrl.envs.action_bounds import ActionBounds
from keelrl.envs.spaces import pixels_continuous_actions
from keelrl.errors import check
from keelrl.functional import soft_update
from keelrl.nn.actors import TanhGaussianActor
from keelrl.nn.ensemble import EnsembleCritic
from keelrl.nn.sequential_latent import SequentialLatentModel, latent_model_loss, reconstruction_strip
from keelrl.optim import adam
from keelrl.types import SequenceBatch, Spaces


@dataclass
class SLACConfig:
    """SLAC. Defaults are the paper's and its reference code's (configs/slac.gin): z1 32, z2 256,
    sequences of 8, model batch 32 at Adam 1e-4, actor-critic batch 256 at 3e-4, 256x256 heads,
    10k random steps and 100k model updates before the actor-critic starts, decoder std √0.1."""

    sequence_length: int = 8
    """T: steps of each sampled sequence, and the actor's history (frames and actions)."""
    z1_dim: int = 32
    """Size of z1 (the stochastic latent the frames inform)."""
    z2_dim: int = 256
    """Size of z2 (the latent carrying the history)."""
    feature_dim: int = 256
    """Features of a frame (the encoder's output)."""
    base_depth: int = 32
    """Channels of the first convolution of the encoder (the others: 2, 4, 8, 8 times it)."""
    decoder_std: float = 0.1 ** 0.5
    """Fixed standard deviation of the image likelihood, in [0, 1] pixel units (a per-task setting)."""
    model_lr: float = 1e-4
    """Adam learning rate of the latent model."""
    model_batch_size: int = 32
    """Sequences per model update."""
    model_pretrain: int = 100_000
    """Model updates when the random warm-up ends, before the first actor-critic update."""
    model_every: int = 1
    """Then one model update every this many environment steps."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden widths of the actor and of each critic."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    alpha_lr: float = 3e-4
    """Adam learning rate of log α."""
    alpha: float = 1.0
    """Initial temperature α (learned against H̄ = -|A|)."""
    batch_size: int = 256
    """Sequences per actor-critic update."""
    buffer_size: int = 100_000
    """Replay capacity, in frames (each stored once)."""
    gamma: float = 0.99
    """Discount factor γ."""
    tau: float = 0.005
    """Polyak coefficient of the target critics."""
    learning_starts: int = 10_000
    """Environment steps of uniform random actions before the model's pre-training and the first update."""
    updates_per_step: float = 1.0
    """Actor-critic updates per environment step."""

    def __post_init__(self) -> None:
        check_shared_fields(self)
        for name in ("sequence_length", "z1_dim", "z2_dim", "feature_dim", "base_depth", "model_batch_size", "buffer_size"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        check(self.sequence_length >= 2, f"sequence_length must be >= 2 (a history and a step), got {self.sequence_length}")
        check(self.model_pretrain >= 0 and self.model_every >= 0, "model_pretrain and model_every must be >= 0")
        check(self.decoder_std > 0 and self.model_lr > 0, "decoder_std and model_lr must be > 0")
        check(self.alpha > 0, f"alpha must be > 0 (it is learned from there), got {self.alpha}")
        check(self.learning_starts >= 0 and self.updates_per_step > 0, "learning_starts >= 0 and updates_per_step > 0")


def masked_critic_loss(q: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """SAC's J_Q (algos/sac.py `critic_loss`) over the sequences whose last step is real:
    Σ_i Σ_b valid_b ½ (Q_i - y)² / Σ_b valid_b. q [N, B], target [1, B], valid [B] in {0, 1}."""
    assert q.dim() == 2 and target.shape == (1, q.shape[1]) and valid.shape == q.shape[1:], \
        f"shapes: q {tuple(q.shape)}, target {tuple(target.shape)}, valid {tuple(valid.shape)}"
    n = valid.sum().clamp(min=1.0)
    loss = (0.5 * (q - target).pow(2) * valid).sum() / n
    return loss, {"loss_q": loss.detach(), "q_mean": ((q * valid).sum() / (n * q.shape[0])).detach()}


def masked_actor_loss(q_pi: torch.Tensor, log_prob: torch.Tensor, alpha: torch.Tensor,
                      valid: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """SAC's J_π (`actor_loss_reparametrized`) over the sequences whose last step is real:
    Σ_b valid_b (α log π(a_b|h_b) - Q(z_b, a_b)) / Σ_b valid_b. q_pi, log_prob, valid [B]."""
    assert q_pi.shape == log_prob.shape == valid.shape and q_pi.dim() == 1
    n = valid.sum().clamp(min=1.0)
    loss = ((alpha * log_prob - q_pi) * valid).sum() / n
    return loss, {"loss_pi": loss.detach(), "entropy": (-(log_prob * valid).sum() / n).detach()}


def masked_temperature_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float,
                            valid: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """SAC's J(α) (`temperature_loss`) over the sequences whose last step is real."""
    alpha = log_alpha.exp()
    loss = -((alpha * (log_prob.detach() + target_entropy)) * valid).sum() / valid.sum().clamp(min=1.0)
    return loss, {"loss_alpha": loss.detach(), "alpha": alpha.detach()}


LOSSES = {"model": latent_model_loss, "critic": masked_critic_loss, "actor": masked_actor_loss,
          "temperature": masked_temperature_loss}
"""The losses SLACAgent calls by name: the model's ELBO and SAC's three, each over the sequences
whose last step is a real step (a sequence that ran past its episode's end has frames of
another episode, or older ones, after it: it trains the model, masked, not the actor-critic)."""


class SLACAgent:
    algo = "slac"
    metric_names = ("loss_q", "q_mean", "loss_pi", "entropy", "loss_alpha", "alpha", "loss_model", "kl",
                    "image_nll", "reward_nll")

    def __init__(self, cfg: SLACConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.losses = named_losses(LOSSES, losses, self.algo)
        d, (c, h, _), a = self.device, spaces.observation.shape, spaces.act_dim
        self.model = SequentialLatentModel(c, a, h, cfg.z1_dim, cfg.z2_dim, 256, cfg.feature_dim, cfg.base_depth,
                                           cfg.decoder_std).to(d)
        z, t = cfg.z1_dim + cfg.z2_dim, cfg.sequence_length
        self.actor = TanhGaussianActor(t * cfg.feature_dim + (t - 1) * a, a, cfg.hidden_sizes, -20.0, 2.0).to(d)
        self.critic = EnsembleCritic(2, z, a, cfg.hidden_sizes).to(d)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(float(np.log(cfg.alpha)), device=d, requires_grad=True)
        self.target_entropy = -float(a)
        self.model_opt = adam(self.model.parameters(), cfg.model_lr)
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.critic_lr)
        self.alpha_opt = adam([self.log_alpha], cfg.alpha_lr)
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, d)
        self.num_updates, self.model_updates = 0, 0
        self._last_model = {k: torch.zeros((), device=d) for k in ("loss_model", "kl", "image_nll", "reward_nll")}
        # the acting memory of each environment copy: the last T frames and T-1 actions taken
        self.frames: np.ndarray | None = None      # [N, T, C, H, W]
        self.actions: np.ndarray | None = None     # [N, T-1, A] in the policy's space
        self.fresh = np.zeros(0, dtype=bool)       # copies whose episode has not been acted in yet

    # ---- acting with the history of the episode
    def history(self, features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """h = [features of T frames [..., T, F], actions [..., T-1, A]] flattened -> [..., T·F + (T-1)·A]."""
        return torch.cat([features.flatten(-2), actions.flatten(-2)], -1)

    def start_episodes(self, mask: np.ndarray) -> None:
        """The copies in `mask` start new episodes: their history restarts with their next frame."""
        if len(self.fresh) == len(mask):
            self.fresh |= np.asarray(mask, dtype=bool)

    def memory(self) -> dict:
        """A copy of the acting memory (evaluation acts apart and puts it back; checkpoints keep it)."""
        copy_of = lambda a: None if a is None else a.copy()   # noqa: E731  (act writes into the arrays)
        return {"frames": copy_of(self.frames), "actions": copy_of(self.actions), "fresh": self.fresh.copy()}

    def set_memory(self, memory: dict) -> None:
        copy_of = lambda a: None if a is None else np.array(a)   # noqa: E731
        self.frames, self.actions, self.fresh = (copy_of(memory["frames"]), copy_of(memory["actions"]),
                                                 np.array(memory["fresh"], dtype=bool))

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """frames [N, C, H, W] -> env-space actions [N, A], from the history of each copy's episode.
        A new episode's history is its first frame repeated and zero actions (as the reference)."""
        obs, t = np.asarray(obs), self.cfg.sequence_length
        n = obs.shape[0]
        if self.frames is None or self.frames.shape[0] != n:
            self.frames = np.zeros((n, t, *obs.shape[1:]), obs.dtype)
            self.actions = np.zeros((n, t - 1, self.spaces.act_dim), np.float32)
            self.fresh = np.ones(n, dtype=bool)
        self.frames = np.concatenate([self.frames[:, 1:], obs[:, None]], 1)
        self.frames[self.fresh] = obs[self.fresh, None]
        self.actions[self.fresh] = 0.0
        self.fresh[:] = False
        frames = torch.as_tensor(self.frames, device=self.device).float()
        features = self.model.encode(frames)                                                   # [N, T, F]
        dist = self.actor(self.history(features, torch.as_tensor(self.actions, device=self.device)))
        a = dist.mode if deterministic else dist.rsample()[0]                                  # [N, A] in [-1, 1]
        self.actions = np.concatenate([self.actions[:, 1:], a.cpu().numpy()[:, None]], 1)
        return self.bounds.to_env(a)

    def explore(self, obs: np.ndarray, step: int) -> np.ndarray:
        return self.act(obs)

    def to_policy_space(self, env_action: np.ndarray) -> np.ndarray:
        return self.bounds.to_policy(env_action)

    # ---- learning
    def update_model(self, batch: SequenceBatch) -> dict[str, torch.Tensor]:
        """One Adam step of the latent model on its ELBO (the loop's side update)."""
        loss, info = self.losses["model"](self.model, batch)
        self.model_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.model_opt.step()
        self.model_updates += 1
        self._last_model = info
        return info

    def update(self, batch: SequenceBatch) -> dict[str, torch.Tensor]:
        """One actor-critic update on the last step of each sequence (masked where the episode ended before it)."""
        cfg = self.cfg
        alpha = self.log_alpha.detach().exp()
        with torch.no_grad():
            features = self.model.encode(batch.obs)                                         # [B, T+1, F]
            z = self.model.sample_posterior(features, batch.action).z                       # [B, T+1, Z]
            h = self.history(features[:, :-1], batch.action[:, :-1])                       # h_{T-1}: frames 0..T-1
            h_next = self.history(features[:, 1:], batch.action[:, 1:])                    # h_T: frames 1..T
        valid = batch.mask[:, -1]                                                           # [B]
        last = (batch.reward[:, -1], batch.terminated[:, -1], batch.action[:, -1])
        # critic: Q(z_{T-1}, a_{T-1}) against the soft target at z_T
        with torch.no_grad():
            next_a, next_logp, _ = self.actor(h_next).rsample()                             # [B, A], [B]
            q_next = self.critic_target(z[:, -1], next_a).unsqueeze(1)                     # [2, 1, B]
            y = soft_q_target(last[0], last[1], backup_values(q_next, "min"), next_logp.unsqueeze(0), alpha,
                              cfg.gamma, True)                                              # [1, B]
        q = self.critic(z[:, -2], last[2])                                                  # [2, B]
        loss_q, info = self.losses["critic"](q, y, valid)
        self.critic_opt.zero_grad(set_to_none=True)
        loss_q.backward()
        self.critic_opt.step()
        # actor and temperature on h_{T-1}, valued at z_{T-1}
        self.critic.requires_grad_(False)
        a, logp, _ = self.actor(h).rsample()
        q_pi = self.critic(z[:, -2], a).min(0).values
        loss_pi, info_pi = self.losses["actor"](q_pi, logp, alpha, valid)
        self.actor_opt.zero_grad(set_to_none=True)
        loss_pi.backward()
        self.actor_opt.step()
        self.critic.requires_grad_(True)
        loss_alpha, info_alpha = self.losses["temperature"](self.log_alpha, logp, self.target_entropy, valid)
        self.alpha_opt.zero_grad(set_to_none=True)
        loss_alpha.backward()
        self.alpha_opt.step()
        soft_update(self.critic_target.parameters(), self.critic.parameters(), cfg.tau)
        self.num_updates += 1
        return {**info, **info_pi, **info_alpha, **self._last_model}

    @torch.no_grad()
    def reconstructions(self, batch: SequenceBatch) -> np.ndarray:
        """uint8 [3·H, (T+1)·W, 3]: the first sequence's frames, their posterior reconstructions and
        the prior's dream from its first frame (nn/sequential_latent.py's `reconstruction_strip`)."""
        return reconstruction_strip(self.model, batch.obs[0], batch.action[0])

    # ---- persistence
    MODULES = ("model", "actor", "critic", "critic_target", "model_opt", "actor_opt", "critic_opt", "alpha_opt")

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                **{m: getattr(self, m).state_dict() for m in self.MODULES},
                "log_alpha": self.log_alpha.detach().cpu(), "num_updates": self.num_updates,
                "model_updates": self.model_updates, "memory": self.memory(),
                "last_model": {k: v.detach().cpu() for k, v in self._last_model.items()}}

    def load_state_dict(self, state: dict) -> None:
        for m in self.MODULES:
            getattr(self, m).load_state_dict(state[m])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.num_updates, self.model_updates = state["num_updates"], state["model_updates"]
        self.set_memory(state["memory"])
        self._last_model = {k: v.to(self.device) for k, v in state["last_model"].items()}


def needs(cfg: SLACConfig) -> Transitions:
    model = SideUpdate("update_model", cfg.model_batch_size, cfg.model_pretrain, cfg.model_every, 1)
    return Transitions(cfg.batch_size, cfg.buffer_size, cfg.learning_starts, cfg.updates_per_step,
                       gamma=cfg.gamma, side_updates=(model,), sequence_length=cfg.sequence_length)


SPEC = AlgoSpec("slac", SLACConfig, SLACAgent,
                "SLAC: SAC on the latents of a sequential latent variable model of pixels", "transitions",
                pixels_continuous_actions, needs,
                branches=lambda cfg: UpdateBranches(not_capturable="the actor's history is kept on the host"))
