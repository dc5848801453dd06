"""Implicit Q-Learning (Kostrikov, Nair & Levine 2021, "Offline RL with Implicit Q-Learning").

Never queries Q at actions outside the dataset. An upper expectile of Q over the data's actions
stands in for the max over actions, and the policy is extracted by advantage-weighted regression:

    value loss    L_V = E_(s,a)~D[ L₂^τ( Q̄(s, a) - V(s) ) ],  L₂^τ(u) = |τ - 1(u<0)| u²        (Eq. 5)
    critic loss   L_Q = E_(s,a,r,s')~D[ ( r + γ (1 - d) V(s') - Q(s, a) )² ]                      (Eq. 6)
    policy loss   L_π = -E_(s,a)~D[ exp(β (Q̄(s, a) - V(s))) log π(a|s) ],  weights clipped at 100  (Eq. 7)

Q̄ is the min over the two target critics; β is the inverse temperature (the reference code's
`temperature`). With `actor=deterministic`, log π(a|s) is replaced by -‖π(s) - a‖²
(CORL's deterministic IQL). Defaults are the paper's locomotion settings: τ = 0.7, β = 3, 256×256,
Adam 3e-4 with the actor's learning rate cosine-annealed, target τ = 0.005, rewards scaled by
1000 / (max episode return - min episode return).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

from keelrl.algos.spec import AlgoSpec, DatasetNeeds, UpdateBranches, named_losses
from keelrl.data.normalization import FixedNormalizer
from keelrl.envs.spaces import continuous_actions
from keelrl.envs.action_bounds import ActionBounds
from keelrl.algos.config_checks import check_shared_fields
from keelrl.errors import check
from keelrl.functional import expectile_loss, soft_update, td_target
from keelrl.nn.actors import DeterministicActor, GaussianActor
from keelrl.nn.ensemble import EnsembleMLP, EnsembleCritic
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


@dataclass
class IQLConfig:
    """IQL. Defaults are the paper's Gym-MuJoCo settings (Kostrikov et al. 2021, Appendix B)."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor, the critics and the value network."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy (cosine-annealed over lr_decay_steps)."""
    critic_lr: float = 3e-4
    """Adam learning rate of the two critics."""
    value_lr: float = 3e-4
    """Adam learning rate of V."""
    batch_size: int = 256
    """Transitions per gradient update."""
    gamma: float = 0.99
    """Discount factor γ."""
    tau: float = 0.005
    """Polyak coefficient of the target critics."""
    expectile: float = 0.7
    """τ of the expectile regression of V on Q (0.5: the mean; → 1: the max over the data's actions)."""
    beta: float = 3.0
    """β, the inverse temperature of the advantage weights exp(β A(s, a))."""
    exp_adv_max: float = 100.0
    """Upper clip of the advantage weights."""
    actor: Literal["gaussian", "deterministic"] = "gaussian"
    """`gaussian`: N(tanh f(s), σ²) with a state-independent σ, trained by weighted log-likelihood; `deterministic`: tanh f(s) by weighted squared error."""
    lr_decay_steps: int = 1_000_000
    """T of the actor's cosine schedule lr_t = lr · ½ (1 + cos(π t / T)), the paper's 1M updates; 0 keeps the rate constant."""
    normalize_obs: bool = True
    """Standardize states with the dataset's mean and std (+1e-3), also when acting."""
    normalize_reward: bool = True
    """Scale rewards by 1000 / (max - min episode return in the dataset), as the paper does on locomotion."""
    log_std_min: float = -5.0
    """Lower clamp of the Gaussian policy's log σ."""
    log_std_max: float = 2.0
    """Upper clamp of the Gaussian policy's log σ."""

    def __post_init__(self) -> None:
        check_shared_fields(self)
        check(0.0 < self.expectile < 1.0, f"expectile must be in (0, 1), got {self.expectile}")
        check(self.beta >= 0, f"beta must be >= 0, got {self.beta}")
        check(self.exp_adv_max > 0, f"exp_adv_max must be > 0, got {self.exp_adv_max}")
        check(self.actor in ("gaussian", "deterministic"), f"actor must be gaussian or deterministic, got {self.actor!r}")
        check(self.lr_decay_steps >= 0, f"lr_decay_steps must be >= 0, got {self.lr_decay_steps}")


# CORL's per-task settings (configs/offline/iql/<task>/<dataset>_v2.yaml); other fields keep the defaults.
PRESETS: dict[str, dict] = {
    "hopper-medium": {"actor": "deterministic", "tau": 0.001},
    "hopper-medium-replay": {"actor": "deterministic", "tau": 0.001},
    "halfcheetah-medium": {"normalize_reward": False},
}

# --------------------------------------------------------------------------- losses (pure functions)

def iql_value_loss(q_target: torch.Tensor, v: torch.Tensor, expectile: float) -> tuple[torch.Tensor, dict]:
    """L_V = E[ L₂^τ(Q̄(s, a) - V(s)) ]  (Eq. 5). q_target [B] (min of the target critics, no gradient), v [B]."""
    assert q_target.shape == v.shape and v.dim() == 1, f"shapes: q {tuple(q_target.shape)}, v {tuple(v.shape)}"
    loss = expectile_loss(q_target - v, expectile).mean()
    return loss, {"loss_v": loss.detach(), "v_mean": v.detach().mean()}


def iql_critic_loss(q: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """L_Q = (1/N) Σ_i E[ (y - Q_i(s, a))² ],  y = r + γ (1 - d) V(s')  (Eq. 6).

    q [N, B]; target [B] without gradient. The mean over the N critics follows the reference code."""
    assert q.dim() == 2 and target.shape == q.shape[1:], f"shapes: q {tuple(q.shape)}, target {tuple(target.shape)}"
    loss = (q - target).pow(2).mean()
    return loss, {"loss_q": loss.detach(), "q_mean": q.detach().mean()}


def awr_weights(advantage: torch.Tensor, beta: float, max_weight: float) -> torch.Tensor:
    """w = min(exp(β A), max_weight), no gradient (Eq. 7's exponentiated, clipped advantages)."""
    return torch.exp(beta * advantage.detach()).clamp(max=max_weight)


def iql_actor_loss(log_likelihood: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """L_π = -E[ w · log π(a|s) ]  (Eq. 7). log_likelihood [B]: log π(a|s), or -‖π(s) - a‖² for a
    deterministic policy; weights [B] from `awr_weights`."""
    assert log_likelihood.shape == weights.shape and weights.dim() == 1, \
        f"shapes: log-likelihood {tuple(log_likelihood.shape)}, weights {tuple(weights.shape)}"
    loss = -(weights * log_likelihood).mean()
    return loss, {"loss_pi": loss.detach(), "weight_mean": weights.mean()}


# --------------------------------------------------------------------------- agent

LOSSES = {"value": iql_value_loss, "critic": iql_critic_loss, "actor": iql_actor_loss}
"""The losses IQLAgent.update calls by name."""


class IQLAgent:
    algo = "iql"
    metric_names = ("loss_v", "v_mean", "loss_q", "q_mean", "loss_pi", "weight_mean")

    def __init__(self, cfg: IQLConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        obs_dim, act_dim = spaces.obs_dim, spaces.act_dim
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.losses = named_losses(LOSSES, losses, "iql")
        d = self.device
        if cfg.actor == "gaussian":
            self.actor = GaussianActor(obs_dim, act_dim, cfg.hidden_sizes, cfg.log_std_min, cfg.log_std_max).to(d)
        else:
            self.actor = DeterministicActor(obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic = EnsembleCritic(2, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic_target = EnsembleCritic(2, obs_dim, act_dim, cfg.hidden_sizes).to(d)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.value = EnsembleMLP(1, obs_dim, cfg.hidden_sizes, 1).to(d)  # one member: V(s)
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.critic_lr)
        self.value_opt = adam(self.value.parameters(), cfg.value_lr)
        self.actor_sched = (torch.optim.lr_scheduler.CosineAnnealingLR(self.actor_opt, cfg.lr_decay_steps)
                            if cfg.lr_decay_steps > 0 else None)
        self.obs_norm = FixedNormalizer(obs_dim, d)
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, d)
        self.num_updates = 0

    def _v(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value(obs)[0, :, 0]  # [B]

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """obs [N, O] -> env-space actions [N, A]: the policy's mean (a clipped sample when not deterministic)."""
        out = self.actor(self.obs_norm(obs))
        if self.cfg.actor == "deterministic":
            return self.bounds.to_env(out)
        return self.bounds.to_env(out.mean if deterministic else out.sample().clamp(-1.0, 1.0))

    def set_obs_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.obs_norm.set(mean, std)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        # V: expectile regression on the target critics' min at the dataset's actions.
        with torch.no_grad():
            q_target = self.critic_target(batch.obs, batch.action).min(0).values        # [B]
        v = self._v(batch.obs)
        loss_v, info = self.losses["value"](q_target, v, cfg.expectile)
        self.value_opt.zero_grad(set_to_none=True)
        loss_v.backward()
        self.value_opt.step()
        advantage = q_target - v.detach()  # with V before this step, as the reference code

        # Q: regress on r + γ (1 - d) V(s').
        with torch.no_grad():
            y = td_target(batch.reward, batch.terminated, self._v(batch.next_obs), cfg.gamma)
        loss_q, info_q = self.losses["critic"](self.critic(batch.obs, batch.action), y)
        self.critic_opt.zero_grad(set_to_none=True)
        loss_q.backward()
        self.critic_opt.step()

        # π: advantage-weighted regression onto the dataset's actions.
        out = self.actor(batch.obs)
        if cfg.actor == "gaussian":
            log_likelihood = out.log_prob(batch.action).sum(-1)
        else:
            log_likelihood = -(out - batch.action).pow(2).sum(-1)
        loss_pi, info_pi = self.losses["actor"](log_likelihood, awr_weights(advantage, cfg.beta, cfg.exp_adv_max))
        self.actor_opt.zero_grad(set_to_none=True)
        loss_pi.backward()
        self.actor_opt.step()
        if self.actor_sched is not None and self.num_updates < cfg.lr_decay_steps:
            self.actor_sched.step()  # past T the rate stays at 0 (torch's cosine would rise again)

        soft_update(self.critic_target.parameters(), self.critic.parameters(), cfg.tau)
        self.num_updates += 1
        return {**info, **info_q, **info_pi}

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                **{k: getattr(self, k).state_dict() for k in
                   ("actor", "critic", "critic_target", "value", "actor_opt", "critic_opt", "value_opt", "obs_norm")},
                "actor_sched": None if self.actor_sched is None else self.actor_sched.state_dict(),
                "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        for k in ("actor", "critic", "critic_target", "value", "actor_opt", "critic_opt", "value_opt", "obs_norm"):
            getattr(self, k).load_state_dict(state[k])
        if self.actor_sched is not None:
            self.actor_sched.load_state_dict(state["actor_sched"])
        self.num_updates = state["num_updates"]


def needs(cfg: IQLConfig) -> DatasetNeeds:
    return DatasetNeeds(cfg.batch_size, reward_range_scale=1000.0 if cfg.normalize_reward else None,
                        normalize_obs=cfg.normalize_obs)


def branches(cfg: IQLConfig) -> UpdateBranches:
    if cfg.lr_decay_steps > 0:
        return UpdateBranches(not_capturable="iql's learning-rate schedule is set on the host each update: add "
                                             "--lr-decay-steps 0 for a constant rate, or drop --cuda-graphs")
    return UpdateBranches()


SPEC = AlgoSpec("iql", IQLConfig, IQLAgent, "Implicit Q-Learning (offline)", "dataset", continuous_actions, needs,
                branches=branches, presets=PRESETS)
