"""Parameterized DQN (Xiong et al. 2018, "Parametrized Deep Q-Networks Learning: Reinforcement
Learning with Discrete-Continuous Hybrid Action Space"), and its multi-pass form MP-DQN (Bester,
James & Konidaris 2019, "Multi-Pass Q-Networks for Deep Reinforcement Learning with Parameterised
Action Spaces") as the option `multi_pass` (`keel train mpdqn`).

A parameter network x_φ(s) ∈ [-1, 1]^P proposes the parameters of every discrete action, and an
action-value network Q_θ(s, k, x) scores each discrete action given them:

    act              k = argmax_k Q_θ(s, k, x_φ(s)),  parameters x_φ(s)
    target           y = r + γ (1 - d) max_k Q_θ'(s', k, x_φ'(s'))                        (Xiong Eq. 7)
    Q loss           J_Q = E[ ½ (Q_θ(s, k, x) - y)² ]   (k, x: the stored action; Huber optional)
    parameter loss   J_x = -E_s[ Σ_k Q_θ(s, k, x_φ(s)) ]   with θ fixed                       (Xiong Eq. 8)

With `inverting_gradients` (the default, as in Bester et al.'s code) the parameter network has a
linear output and ∂Q/∂x is passed through `functional.invert_gradients` (Hausknecht & Stone 2016)
instead of squashing x with tanh. Multi-pass Q: nn/parameterized.py.

Exploration: ε-greedy over the discrete actions (ε decays linearly from eps_start to eps_end over
exploration_steps environment steps), Gaussian noise σ on the parameters, clipped to [-1, 1].
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from keelrl.algos.dqn import linear_epsilon, q_regression_loss
from keelrl.algos.spec import AlgoSpec, Transitions, named_losses
from keelrl.envs.hybrid.actions import HybridActions
from keelrl.envs.spaces import hybrid_actions
from keelrl.errors import check
from keelrl.functional import inverted_gradient_loss, soft_update, td_target
from keelrl.nn.mlp import mlp
from keelrl.nn.parameterized import ParamQNetwork
from keelrl.optim import adam, optimizer_step
from keelrl.types import Batch, HybridAction, Spaces


@dataclass
class PDQNConfig:
    """P-DQN. Defaults follow Bester et al.'s reference code for Platform (cycraig/MP-DQN), except
    learning_starts and the step-counted ε schedule (episodes there)."""

    q_hidden_sizes: tuple[int, ...] = (128,)
    """Hidden layer widths of Q_θ(s, ·, x)."""
    param_hidden_sizes: tuple[int, ...] = (128,)
    """Hidden layer widths of x_φ(s)."""
    q_lr: float = 1e-3
    """Adam learning rate of Q_θ."""
    param_lr: float = 1e-4
    """Adam learning rate of x_φ."""
    batch_size: int = 128
    """Transitions per gradient update."""
    buffer_size: int = 10_000
    """Replay buffer capacity, in transitions."""
    gamma: float = 0.9
    """Discount factor γ."""
    tau_q: float = 0.1
    """Polyak coefficient of Q_θ'."""
    tau_param: float = 0.001
    """Polyak coefficient of x_φ'."""
    learning_starts: int = 500
    """Environment steps of uniform random actions before the first update."""
    updates_per_step: float = 1.0
    """Gradient updates per environment step."""
    eps_start: float = 1.0
    """ε of the ε-greedy discrete choice at the first step."""
    eps_end: float = 0.01
    """ε after exploration_steps."""
    exploration_steps: int = 10_000
    """Environment steps over which ε decays linearly."""
    param_noise: float = 0.1
    """σ of the Gaussian noise on the parameters when exploring, in their [-1, 1] units."""
    inverting_gradients: bool = True
    """Bound x_φ by inverting gradients (linear output); False: a tanh output."""
    loss: str = "mse"
    """The Q regression loss: "mse" or "huber"."""
    max_grad_norm: float = 10.0
    """Clip each network's gradient norm to this (0: no clipping)."""
    multi_pass: bool = False
    """MP-DQN: Q_k sees only its own action's parameters (K passes in one batch)."""

    def __post_init__(self) -> None:
        for name in ("q_hidden_sizes", "param_hidden_sizes"):
            sizes = tuple(int(h) for h in getattr(self, name))
            check(len(sizes) >= 1 and all(h > 0 for h in sizes), f"{name} must be one or more positive widths, got {sizes}")
            setattr(self, name, sizes)
        for name in ("q_lr", "param_lr"):
            check(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        check(1 <= self.batch_size <= self.buffer_size,
              f"batch_size must be in [1, buffer_size ({self.buffer_size})], got {self.batch_size}")
        check(0.0 <= self.gamma <= 1.0, f"gamma must be in [0, 1], got {self.gamma}")
        for name in ("tau_q", "tau_param"):
            check(0.0 < getattr(self, name) <= 1.0, f"{name} must be in (0, 1], got {getattr(self, name)}")
        check(self.learning_starts >= 0, f"learning_starts must be >= 0, got {self.learning_starts}")
        check(self.updates_per_step > 0, f"updates_per_step must be > 0, got {self.updates_per_step}")
        check(0.0 <= self.eps_end <= self.eps_start <= 1.0,
              f"need 0 <= eps_end <= eps_start <= 1, got eps_start {self.eps_start}, eps_end {self.eps_end}")
        check(self.exploration_steps >= 1, f"exploration_steps must be >= 1, got {self.exploration_steps}")
        check(self.param_noise >= 0, f"param_noise must be >= 0, got {self.param_noise}")
        check(self.loss in ("mse", "huber"), f"loss must be 'mse' or 'huber', got {self.loss!r}")
        check(self.max_grad_norm >= 0, f"max_grad_norm must be >= 0, got {self.max_grad_norm}")


# --------------------------------------------------------------------------- losses (pure functions)

def pdqn_q_loss(q_net: ParamQNetwork, q_target: ParamQNetwork, next_params: torch.Tensor, batch: Batch,
                gamma: float, kind: str = "mse") -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """J_Q = E[ ½ (Q_θ(s, k, x) - y)² ],  y = r + γ (1 - d) max_k Q_θ'(s', k, x_φ'(s'))  (Xiong et al. Eq. 7).

    next_params [B, P]: x_φ'(s'); batch.action [B] the stored index, batch.params [B, P] its parameters."""
    assert batch.params is not None and batch.action.dim() == 1, "P-DQN trains on hybrid batches: action [B], params [B, P]"
    with torch.no_grad():
        q_next = q_target(batch.next_obs, next_params).max(1).values                 # [B]
        y = td_target(batch.reward, batch.terminated, q_next, gamma)                  # [B]
    q_sa = q_net(batch.obs, batch.params).gather(1, batch.action.long()[:, None]).squeeze(1)  # [B]
    loss, info = q_regression_loss(q_sa, y, kind)
    return loss, {**info, "q_mean": q_sa.detach().mean()}


def pdqn_param_loss(q_net: ParamQNetwork, obs: torch.Tensor, params: torch.Tensor,
                    inverting: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """J_x = -E_s[ Σ_k Q_θ(s, k, x_φ(s)) ]  (Xiong et al. Eq. 8); params [B, P] = x_φ(s), with gradient to φ.

    inverting: the gradient ∂Σ_k Q/∂x is bounded by inverting gradients and applied through the
    surrogate -E[ Σ_i g̃_i x_i ] (g̃ held fixed), whose gradient in φ is the inverted one."""
    assert params.dim() == 2 and params.shape[0] == obs.shape[0], f"params must be [B, P], got {tuple(params.shape)}"
    if not inverting:
        q_sum = q_net(obs, params).sum(1)                                            # [B]
        loss = -q_sum.mean()
        return loss, {"loss_x": loss.detach()}
    loss, q_sum = inverted_gradient_loss(lambda x: q_net(obs, x).sum(1), params)
    return loss, {"loss_x": -q_sum.mean()}


LOSSES = {"q": pdqn_q_loss, "param": pdqn_param_loss}


# --------------------------------------------------------------------------- agent

class PDQNAgent:
    """Q_θ, x_φ, their targets and optimizers; ε-greedy hybrid acting; the update of the module docstring."""

    algo = "pdqn"
    metric_names = ("loss_q", "q_mean", "loss_x")

    def __init__(self, cfg: PDQNConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg, self.spaces, self.device = cfg, spaces, torch.device(device)
        self.losses = named_losses(LOSSES, losses, "pdqn")
        self.io = HybridActions(spaces, self.device)
        o, p, k, d = spaces.obs_dim, spaces.param_dim, spaces.num_actions, self.device
        slices = spaces.param_slices if cfg.multi_pass else None
        self.q = ParamQNetwork(o, p, k, cfg.q_hidden_sizes, slices).to(d)
        self.q_target = ParamQNetwork(o, p, k, cfg.q_hidden_sizes, slices).to(d)
        self.param = mlp(o, cfg.param_hidden_sizes, p).to(d)
        self.param_target = mlp(o, cfg.param_hidden_sizes, p).to(d)
        self.q_target.load_state_dict(self.q.state_dict())
        self.param_target.load_state_dict(self.param.state_dict())
        self.q_target.requires_grad_(False)
        self.param_target.requires_grad_(False)
        self.q_opt = adam(self.q.parameters(), cfg.q_lr)
        self.param_opt = adam(self.param.parameters(), cfg.param_lr)
        self.num_updates = 0

    def params_of(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        """x_φ(s) [B, P] in [-1, 1] (tanh) or unsquashed (inverting gradients keeps it near [-1, 1])."""
        x = (self.param_target if target else self.param)(obs)
        return x if self.cfg.inverting_gradients else torch.tanh(x)

    @torch.no_grad()
    def q_value(self, obs: torch.Tensor, index: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Q_θ(s, k, x) [B] of hybrid actions (parameters in [-1, 1])."""
        return self.q(obs, params).gather(1, index.long()[:, None]).squeeze(1)

    @torch.no_grad()
    def _choose(self, obs: np.ndarray, eps: float, noise: float) -> tuple[torch.Tensor, torch.Tensor]:
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        x = self.params_of(o).clamp(-1.0, 1.0)                                        # [N, P]
        k = self.q(o, x).argmax(1)                                                     # [N]
        if eps > 0:
            explore = torch.rand(k.shape, device=self.device) < eps
            k = torch.where(explore, torch.randint_like(k, self.spaces.num_actions), k)
        if noise > 0:
            x = (x + noise * torch.randn_like(x)).clamp(-1.0, 1.0)
        return k, x

    def act(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """obs [N, O] -> (indices [N], parameters in the environment's bounds [N, P])."""
        eps, noise = (0.0, 0.0) if deterministic else (self.cfg.eps_end, self.cfg.param_noise)
        return self.io.to_env(*self._choose(obs, eps, noise))

    def explore(self, obs: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        eps = linear_epsilon(step, cfg.eps_start, cfg.eps_end, cfg.exploration_steps)
        return self.io.to_env(*self._choose(obs, eps, cfg.param_noise))

    def to_policy_space(self, env_action) -> HybridAction:
        return self.io.to_policy_space(env_action)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        with torch.no_grad():
            next_params = self.params_of(batch.next_obs, target=True).clamp(-1.0, 1.0)
        loss_q, info = self.losses["q"](self.q, self.q_target, next_params, batch, cfg.gamma, cfg.loss)
        optimizer_step(self.q_opt, loss_q, self.q.parameters(), cfg.max_grad_norm)
        self.q.requires_grad_(False)                 # J_x moves φ only
        loss_x, info_x = self.losses["param"](self.q, batch.obs, self.params_of(batch.obs), cfg.inverting_gradients)
        optimizer_step(self.param_opt, loss_x, self.param.parameters(), cfg.max_grad_norm)
        self.q.requires_grad_(True)
        soft_update(self.q_target.parameters(), self.q.parameters(), cfg.tau_q)
        soft_update(self.param_target.parameters(), self.param.parameters(), cfg.tau_param)
        self.num_updates += 1
        return {"loss_q": info["loss_q"], "q_mean": info["q_mean"], "loss_x": info_x["loss_x"]}

    NETS = ("q", "q_target", "param", "param_target", "q_opt", "param_opt")

    def state_dict(self) -> dict:
        return {"config": asdict(self.cfg), "spaces": self.spaces.to_dict(),
                **{k: getattr(self, k).state_dict() for k in self.NETS}, "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        for k in self.NETS:
            getattr(self, k).load_state_dict(state[k])
        self.num_updates = state["num_updates"]


def needs(cfg) -> Transitions:
    return Transitions(cfg.batch_size, cfg.buffer_size, cfg.learning_starts, cfg.updates_per_step)


GOAL = {"gamma": 0.95, "param_lr": 1e-5, "q_hidden_sizes": (256,), "param_hidden_sizes": (256,), "buffer_size": 20_000,
        "learning_starts": 128, "max_grad_norm": 1.0}
"""Bester et al.'s Goal run (cycraig/MP-DQN run_goal_pdqn.py; its reward scale 1/50 is keel/Goal-v0's own)."""

SPEC = AlgoSpec("pdqn", PDQNConfig, PDQNAgent, "Parameterized DQN (hybrid actions)", "transitions",
                hybrid_actions, needs, presets={"goal": GOAL})
