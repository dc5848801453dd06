"""HyAR (Li et al. 2022, "HyAR: Addressing Discrete-Continuous Action Reinforcement Learning via
Hybrid Action Representation", ICLR): TD3 acting in a learned latent space of hybrid actions.

A conditional VAE (nn/hybrid_vae.py) embeds hybrid actions: discrete action k as e_k = tanh(E[k]),
its parameters x_k as z ~ q_φ(z | x_k, s, e_k). TD3's actor emits a latent action a = [e | a_z] in
[-1, 1]^(d1 + d2); the environment receives the decoded action

    k = argmin_j ||e - e_j||²,     z = m + h ⊙ a_z,     x_k = p_ψ(z, s, e_k)                 (§4.1)

where [m - h, m + h] is the latent space constraint (LSC, §4.3): per latent dimension, the central
c % range of encoded latents (c = 96, the 2nd and 98th percentiles of 5000 samples). The VAE loss (§4.2):

    L_VAE = w_dyn ||δ̃_s - (s' - s)||² + w_param ||x̃_k - x_k||² + w_kl KL(q_φ(z | x_k, s, e_k) || N(0, I))

(means over the batch and dimensions; the code's weights 1, 2, 0.5). The critics Q(s, [e | a_z]) are
TD3's (algos/td3.py, td3_critic_loss on the latent actions); the actor ascends Q through inverting
gradients on its [-1, 1] outputs, as the paper's code does. Representation shift correction (RSC,
§4.3): before each critic update the stored latent actions are relabelled when the current VAE no
longer decodes them to the stored action (`relabel_latents`).

Schedule: `learning_starts` random steps fill the buffer; then the VAE is pre-trained
(`vae_pretrain` updates) and the LSC measured; from then on TD3 updates every step, the VAE
`vae_updates` times every `vae_every` steps, each time followed by the LSC. One Adam optimizer per
network for the whole run (the reference code re-created the VAE's every step, resetting its moments).
`preset ddpg`: HyAR-DDPG (one critic, no target smoothing, no delay, the paper's DDPG learning rates).
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from keelrl.algos.spec import AlgoSpec, SideUpdate, Transitions, UpdateBranches, named_losses
from keelrl.algos.td3 import smoothed_target_action, td3_critic_loss
from keelrl.envs.hybrid.actions import HybridActions, chosen_params, own_columns, place_params
from keelrl.envs.spaces import hybrid_actions
from keelrl.errors import check
from keelrl.functional import inverted_gradient_loss, soft_update
from keelrl.nn.actors import DeterministicActor
from keelrl.nn.ensemble import EnsembleCritic
from keelrl.nn.hybrid_vae import HybridActionVAE
from keelrl.nn.vae import gaussian_kl, reparameterize
from keelrl.optim import adam, optimizer_step
from keelrl.types import Batch, HybridAction, Spaces


@dataclass
class HyARConfig:
    """HyAR-TD3. Defaults are the paper's code for Platform (TJU-DRL-LAB/AI-Optimizer), in environment
    steps where it counts episodes (see docs/algorithms/hyar.md)."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor and of each critic."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    batch_size: int = 128
    """Transitions per TD3 update."""
    buffer_size: int = 200_000
    """Replay buffer capacity, in transitions (the VAE trains from the same buffer)."""
    gamma: float = 0.99
    """Discount factor γ."""
    tau: float = 0.005
    """Polyak coefficient of the target networks."""
    learning_starts: int = 5000
    """Environment steps of uniform random actions before the VAE's pre-training and the first update."""
    updates_per_step: float = 1.0
    """TD3 updates per environment step."""
    num_critics: int = 2
    """Critics (2: TD3's clipped double-Q; 1: DDPG)."""
    policy_noise: float = 0.1
    """σ̃ of TD3's target policy smoothing (the paper's code: 0.1; 0: none, DDPG)."""
    noise_clip: float = 0.5
    """c: the smoothing noise, and the relabelled embeddings' noise, are clipped to [-c, c]."""
    policy_delay: int = 2
    """Update the actor and targets once every this many critic updates (1: DDPG)."""
    noise_start: float = 1.0
    """σ of the Gaussian exploration noise on the latent action at the first step after the warm-up..."""
    noise_end: float = 0.1
    """...decaying linearly to this..."""
    exploration_steps: int = 10_000
    """...over this many environment steps."""
    max_grad_norm: float = 10.0
    """Clip the actor's gradient norm to this (0: no clipping)."""
    embed_dim: int = 6
    """d1: the discrete-action embedding's size."""
    latent_dim: int = 6
    """d2: the parameters' latent size."""
    vae_hidden: int = 256
    """Width of the VAE's layers."""
    vae_lr: float = 1e-4
    """Adam learning rate of the VAE and the embedding table."""
    vae_batch_size: int = 64
    """Transitions per VAE update."""
    vae_pretrain: int = 5000
    """VAE updates when the warm-up ends."""
    vae_every: int = 100
    """Then vae_updates VAE updates every this many environment steps..."""
    vae_updates: int = 1
    """...(the paper's code: one every 10 episodes)."""
    w_dyn: float = 1.0
    """Weight of the state-change prediction loss ||δ̃_s - (s' - s)||²."""
    w_param: float = 2.0
    """Weight of the parameter reconstruction loss ||x̃_k - x_k||²."""
    w_kl: float = 0.5
    """Weight of the KL term."""
    lsc_percent: float = 96.0
    """c: the latent space constraint keeps the central c % of encoded latents, per dimension."""
    lsc_samples: int = 5000
    """Encoded transitions the constraint is measured on."""
    relabel: bool = True
    """Representation shift correction: relabel stale latent actions before each critic update."""
    relabel_embed_noise: float = 0.1
    """σ of the noise on a relabelled discrete embedding (clipped to ±noise_clip)."""
    relabel_threshold: float = 5.0
    """Relabel a latent whose state-change prediction error is this many times the VAE's mean error."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        check(len(self.hidden_sizes) >= 1 and all(h > 0 for h in self.hidden_sizes),
              f"hidden_sizes must be one or more positive widths, got {self.hidden_sizes}")
        for name in ("actor_lr", "critic_lr", "vae_lr"):
            check(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        check(1 <= self.batch_size <= self.buffer_size,
              f"batch_size must be in [1, buffer_size ({self.buffer_size})], got {self.batch_size}")
        check(0.0 <= self.gamma <= 1.0, f"gamma must be in [0, 1], got {self.gamma}")
        check(0.0 < self.tau <= 1.0, f"tau must be in (0, 1], got {self.tau}")
        check(self.learning_starts >= 1, f"learning_starts must be >= 1 (the VAE pre-trains on its data), got {self.learning_starts}")
        check(self.updates_per_step > 0, f"updates_per_step must be > 0, got {self.updates_per_step}")
        check(self.num_critics >= 1, f"num_critics must be >= 1, got {self.num_critics}")
        check(self.policy_delay >= 1, f"policy_delay must be >= 1, got {self.policy_delay}")
        for name in ("policy_noise", "noise_clip", "noise_end", "max_grad_norm", "w_dyn", "w_param", "w_kl",
                     "relabel_embed_noise"):
            check(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        check(self.noise_start >= self.noise_end, f"noise_start ({self.noise_start}) must be >= noise_end ({self.noise_end})")
        for name in ("exploration_steps", "embed_dim", "latent_dim", "vae_hidden", "vae_batch_size", "vae_updates",
                     "lsc_samples"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        check(self.vae_pretrain >= 0 and self.vae_every >= 0, "vae_pretrain and vae_every must be >= 0")
        check(0 < self.lsc_percent <= 100, f"lsc_percent must be in (0, 100], got {self.lsc_percent}")
        check(self.relabel_threshold > 0, f"relabel_threshold must be > 0, got {self.relabel_threshold}")


# --------------------------------------------------------------------------- losses (pure functions)

def hyar_vae_loss(vae: HybridActionVAE, obs: torch.Tensor, index: torch.Tensor, x: torch.Tensor, delta: torch.Tensor,
                  w_dyn: float, w_param: float, w_kl: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L_VAE = w_dyn ||δ̃_s - δ_s||² + w_param ||x̃_k - x_k||² + w_kl KL(q(z | x_k, s, e_k) || N(0, I))  (§4.2),
    each term a mean over batch and dimensions (so the KL is gaussian_kl / d2).

    obs [B, O], index [B], x = x_k [B, W] (the chosen action's parameters), delta = s' - s [B, O]."""
    assert index.dim() == 1 and x.dim() == 2 and delta.shape == obs.shape, "shapes: index [B], x [B, W], delta [B, O]"
    e = vae.embeddings()[index.long()]                                  # [B, d1]
    mean, log_std = vae.encode(obs, e, x)                               # [B, d2] each
    z = reparameterize(mean, log_std)                                   # [B, d2]
    x_hat, delta_hat = vae.decode(obs, z, e)                            # [B, W], [B, O]
    recon_dyn, recon_param = F.mse_loss(delta_hat, delta), F.mse_loss(x_hat, x)
    kl = gaussian_kl(mean, log_std).mean() / mean.shape[1]
    loss = w_dyn * recon_dyn + w_param * recon_param + w_kl * kl
    return loss, {"loss_vae": loss.detach(), "recon_dyn": recon_dyn.detach(), "recon_param": recon_param.detach(),
                  "kl": kl.detach()}


def latent_bounds(z: torch.Tensor, percent: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The latent space constraint (§4.3): per dimension, the central `percent` % of z [N, d2] -> (low, high) [d2]."""
    assert z.dim() == 2, f"z must be [N, d2], got {tuple(z.shape)}"
    tail = (100.0 - percent) / 200.0
    q = torch.quantile(z, torch.tensor([tail, 1.0 - tail], device=z.device, dtype=z.dtype), dim=0)  # [2, d2]
    return q[0], q[1]


def to_latent(a_z: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """a_z ∈ [-1, 1]^d2 -> z = m + h ⊙ a_z with m = (high + low)/2, h = (high - low)/2."""
    return (high + low) / 2 + (high - low) / 2 * a_z


def from_latent(z: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """The inverse of to_latent, clipped to [-1, 1]."""
    return ((z - (high + low) / 2) / ((high - low) / 2).clamp_min(1e-6)).clamp(-1.0, 1.0)


def relabel_latents(vae: HybridActionVAE, obs: torch.Tensor, index: torch.Tensor, x: torch.Tensor, delta: torch.Tensor,
                    latent: torch.Tensor, low: torch.Tensor, high: torch.Tensor, dyn_error: torch.Tensor | float, threshold: float,
                    embed_noise: float, noise_clip: float, verify: bool = True
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Representation shift correction (§4.3) of stored latent actions latent = [e | a_z] [B, d1 + d2]:

        e   -> e_k + clip(ε, ±c), ε ~ N(0, σ²)   where the nearest embedding of e is no longer k
        a_z -> from_latent(z), z ~ q_φ(· | x_k, s, e_k)   where the decoder's state-change prediction from
               (z_stored, s, e_k) errs by ≥ threshold × dyn_error (the VAE's mean error)

    Rows holding NaN (actions the policy did not choose) are always relabelled; `verify=False` relabels
    only those. obs [B, O], index [B], x = x_k [B, W], delta = s' - s [B, O]. Returns the latents and
    the fraction of each kind that was relabelled."""
    d1 = vae.table.shape[1]
    assert latent.dim() == 2 and latent.shape[1] == d1 + vae.latent_dim, f"latent must be [B, d1 + d2], got {tuple(latent.shape)}"
    with torch.no_grad():
        unknown = torch.isnan(latent).any(1)                                                # [B]
        e_stored, a_z = latent[:, :d1].nan_to_num(0.0), latent[:, d1:].nan_to_num(0.0)
        e_k = vae.embeddings()[index.long()]                                                # [B, d1]
        wrong = unknown | (verify & (vae.nearest(e_stored) != index))                        # [B]
        noisy = (e_k + (embed_noise * torch.randn_like(e_k)).clamp(-noise_clip, noise_clip)).clamp(-1.0, 1.0)
        e = torch.where(wrong[:, None], noisy, e_stored)
        _, delta_hat = vae.decode(obs, to_latent(a_z, low, high), e_k)
        stale = unknown | (verify & ((delta_hat - delta).pow(2).mean(1) >= threshold * dyn_error))  # [B]
        fresh = from_latent(reparameterize(*vae.encode(obs, e_k, x)), low, high)
        a_z = torch.where(stale[:, None], fresh, a_z)
    return torch.cat([e, a_z], 1), {"relabel_discrete": wrong.float().mean(), "relabel_params": stale.float().mean()}


LOSSES = {"critic": td3_critic_loss, "vae": hyar_vae_loss}


# --------------------------------------------------------------------------- agent

class HyARAgent:
    """The VAE and its optimizer, TD3's actor and critics in the latent space, the LSC bounds."""

    algo = "hyar"
    metric_names = ("loss_q", "q_mean", "loss_pi", "loss_vae", "recon_dyn", "recon_param", "kl",
                    "relabel_discrete", "relabel_params")

    def __init__(self, cfg: HyARConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.losses = named_losses(LOSSES, losses, "hyar")
        self.io = HybridActions(spaces, self.device)
        self.columns = own_columns(spaces.param_slices, spaces.param_dim).to(self.device)   # [K, W]
        o, d, dim = spaces.obs_dim, self.device, cfg.embed_dim + cfg.latent_dim
        self.vae = HybridActionVAE(o, spaces.num_actions, self.columns.shape[1], cfg.embed_dim, cfg.latent_dim,
                                   cfg.vae_hidden).to(d)
        self.actor = DeterministicActor(o, dim, cfg.hidden_sizes).to(d)
        self.actor_target = DeterministicActor(o, dim, cfg.hidden_sizes).to(d)
        self.critic = EnsembleCritic(cfg.num_critics, o, dim, cfg.hidden_sizes).to(d)
        self.critic_target = EnsembleCritic(cfg.num_critics, o, dim, cfg.hidden_sizes).to(d)
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.actor_target.requires_grad_(False)
        self.critic_target.requires_grad_(False)
        self.vae_opt = adam(self.vae.parameters(), cfg.vae_lr)
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.critic_lr)
        self.low, self.high = -torch.ones(cfg.latent_dim, device=d), torch.ones(cfg.latent_dim, device=d)
        self.dyn_error = torch.ones((), device=d)        # the VAE's mean state-change error at the last LSC
        self.num_updates, self.vae_steps = 0, 0
        zero = torch.zeros((), device=d)
        self._last = {k: zero for k in self.metric_names}
        self._acted: tuple | None = None                 # (the env action last returned, its latent actions)

    # ---- between latent and hybrid actions
    @torch.no_grad()
    def decode(self, obs: torch.Tensor, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent actions [e | a_z] [N, d1 + d2] -> (indices [N], parameters in [-1, 1] [N, P])."""
        d1 = self.cfg.embed_dim
        k = self.vae.nearest(latent[:, :d1])
        x_k, _ = self.vae.decode(obs, to_latent(latent[:, d1:], self.low, self.high), self.vae.embeddings()[k])
        return k, place_params(x_k, k, self.columns, self.spaces.param_dim)

    @torch.no_grad()
    def encode(self, obs: torch.Tensor, index: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Hybrid actions (parameters in [-1, 1]) -> latent actions [e_k | a_z] from the encoder's mean."""
        e = self.vae.embeddings()[index.long()]
        mean, _ = self.vae.encode(obs, e, chosen_params(params, index, self.columns))
        return torch.cat([e, from_latent(mean, self.low, self.high)], 1)

    @torch.no_grad()
    def q_value(self, obs: torch.Tensor, index: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Q(s, ·) [B] of hybrid actions, through their encoded latent actions (the mean over critics)."""
        return self.critic(obs, self.encode(obs, index, params)).mean(0)

    # ---- acting
    @torch.no_grad()
    def _act(self, obs: np.ndarray, noise: float) -> tuple[np.ndarray, np.ndarray]:
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        latent = self.actor(o)
        if noise > 0:
            latent = (latent + noise * torch.randn_like(latent)).clamp(-1.0, 1.0)
        env_action = self.io.to_env(*self.decode(o, latent))
        self._acted = (env_action, latent.cpu().numpy())
        return env_action

    def act(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """obs [N, O] -> (indices [N], parameters in the environment's bounds [N, P])."""
        return self._act(obs, 0.0 if deterministic else self.cfg.noise_end)

    def explore(self, obs: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        frac = min(1.0, max(0, step - cfg.learning_starts) / cfg.exploration_steps)
        return self._act(obs, cfg.noise_start + (cfg.noise_end - cfg.noise_start) * frac)

    def to_policy_space(self, env_action) -> HybridAction:
        """The stored form: index, parameters in [-1, 1], and the latent action that chose them: the
        actor's for the action it just returned, NaN for any other (the warm-up's random actions),
        which `relabel_latents` fills from the current VAE each time the transition is sampled."""
        stored = self.io.to_policy_space(env_action)
        if self._acted is not None and env_action is self._acted[0]:
            return stored._replace(policy_action=self._acted[1])
        unknown = np.full((len(stored.index), self.cfg.embed_dim + self.cfg.latent_dim), np.nan, np.float32)
        return stored._replace(policy_action=unknown)

    # ---- the VAE and its latent space constraint (side updates, spec)
    def _vae_inputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        return chosen_params(batch.params, batch.action, self.columns), batch.next_obs - batch.obs

    def vae_update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        x, delta = self._vae_inputs(batch)
        loss, info = self.losses["vae"](self.vae, batch.obs, batch.action, x, delta, cfg.w_dyn, cfg.w_param, cfg.w_kl)
        optimizer_step(self.vae_opt, loss, self.vae.parameters())
        self.vae_steps += 1
        self._last.update(info)
        return info

    @torch.no_grad()
    def bounds_update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Measure the LSC on a large batch: latent percentiles and the VAE's mean state-change error."""
        x, delta = self._vae_inputs(batch)
        e = self.vae.embeddings()[batch.action.long()]
        z = reparameterize(*self.vae.encode(batch.obs, e, x))
        self.low, self.high = latent_bounds(z, self.cfg.lsc_percent)
        _, delta_hat = self.vae.decode(batch.obs, z, e)
        self.dyn_error = (delta_hat - delta).pow(2).mean()
        return {}

    # ---- TD3 in the latent space
    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        x, delta = self._vae_inputs(batch)
        latent, info = relabel_latents(self.vae, batch.obs, batch.action, x, delta, batch.policy_action, self.low,
                                       self.high, self.dyn_error, cfg.relabel_threshold, cfg.relabel_embed_noise,
                                       cfg.noise_clip, verify=cfg.relabel)
        self._last.update(info)
        flat = Batch(batch.obs, latent, batch.reward, batch.next_obs, batch.terminated, batch.discount)
        with torch.no_grad():
            next_latent = smoothed_target_action(self.actor_target, batch.next_obs, cfg.policy_noise, cfg.noise_clip)
        loss_q, info = self.losses["critic"](self.critic, self.critic_target, flat, next_latent, cfg.gamma)
        optimizer_step(self.critic_opt, loss_q, self.critic.parameters())
        self._last.update(info)
        self.num_updates += 1
        if self.num_updates % cfg.policy_delay == 0:
            self.critic.requires_grad_(False)
            loss_pi, _ = inverted_gradient_loss(lambda a: self.critic.member(0, batch.obs, a), self.actor(batch.obs))
            optimizer_step(self.actor_opt, loss_pi, self.actor.parameters(), cfg.max_grad_norm)
            self.critic.requires_grad_(True)
            soft_update(self.critic_target.parameters(), self.critic.parameters(), cfg.tau)
            soft_update(self.actor_target.parameters(), self.actor.parameters(), cfg.tau)
            self._last["loss_pi"] = loss_pi.detach()
        return dict(self._last)

    NETS = ("vae", "actor", "actor_target", "critic", "critic_target", "vae_opt", "actor_opt", "critic_opt")

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                **{k: getattr(self, k).state_dict() for k in self.NETS},
                "lsc": {"low": self.low.cpu(), "high": self.high.cpu(), "dyn_error": self.dyn_error.cpu()},
                "last": {k: v.detach().cpu() for k, v in self._last.items()},
                "num_updates": self.num_updates, "vae_steps": self.vae_steps}

    def load_state_dict(self, state: dict) -> None:
        for k in self.NETS:
            getattr(self, k).load_state_dict(state[k])
        d = self.device
        self.low, self.high = state["lsc"]["low"].to(d), state["lsc"]["high"].to(d)
        self.dyn_error = state["lsc"]["dyn_error"].to(d)
        self._last = {k: v.to(d) for k, v in state["last"].items()}
        self.num_updates, self.vae_steps = state["num_updates"], state["vae_steps"]


def needs(cfg: HyARConfig) -> Transitions:
    vae = SideUpdate("vae_update", cfg.vae_batch_size, cfg.vae_pretrain, cfg.vae_every, cfg.vae_updates)
    lsc = SideUpdate("bounds_update", cfg.lsc_samples, 1, cfg.vae_every, 1)
    return Transitions(cfg.batch_size, cfg.buffer_size, cfg.learning_starts, cfg.updates_per_step,
                       policy_action_dim=cfg.embed_dim + cfg.latent_dim, side_updates=(vae, lsc))


DDPG = {"num_critics": 1, "policy_noise": 0.0, "policy_delay": 1, "actor_lr": 1e-4, "critic_lr": 1e-3}
"""HyAR-DDPG, the paper's other variant (its code's learning rates)."""

SPEC = AlgoSpec("hyar", HyARConfig, HyARAgent, "HyAR: TD3 in a learned latent space of hybrid actions", "transitions",
                hybrid_actions, needs, branches=lambda cfg: UpdateBranches(periods=(cfg.policy_delay,),
                                                                           not_capturable="relabelling reads a host float"),
                presets={"ddpg": DDPG}, with_batch_size=lambda cfg, n: dataclasses.replace(cfg, batch_size=n))
