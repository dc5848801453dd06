"""SAC for S seeds at once (`keel train sac --seeds 0-4`): S independent agents whose parameters are
stacked along a leading seed dimension, so each layer is one batched matmul for all seeds.

Nothing is shared between seeds but the arithmetic: each seed has its own networks, Adam moments
(Adam is element-wise, so one Adam over stacked tensors is S independent Adams), temperature and
torch random stream. The losses are sac.py's pure functions, mapped over the seed dimension with
torch.vmap; the total loss is their sum, whose gradient for seed s's slice is seed s's own gradient.

Seed s starts from exactly the networks and random stream a single-seed run with `--seed s` has, and
draws its noise in the same order, so a stack of one seed reproduces the single-seed run bit for bit
(tests/train/test_multi_seed.py). `seed_state_dict(s)` writes seed s as an ordinary SACAgent state,
so each seed's checkpoint is a single-seed one: `keel eval` and `keel train --resume` work on it.
"""
from __future__ import annotations

from functools import partial
from typing import Sequence

import numpy as np
import torch

from keelrl.algos.sac import (SACAgent, SACConfig, actor_loss_reinforce, actor_loss_reparametrized, backup_values,
                              critic_loss, soft_q_target, temperature_loss, update_target_critic)
from keelrl.envs.action_bounds import ActionBounds
from keelrl.errors import KeelError
from keelrl.nn.distributions import TanhNormal
from keelrl.nn.seed_stack import StackedEnsembleCritic, StackedTanhGaussianActor
from keelrl.optim import adam
from keelrl.types import Batch, Spaces


def _expand(dist: TanhNormal) -> TanhNormal:
    """[S, B, A] -> [S, 1, B, A], so noise [S, K, B, A] gives K samples per state."""
    return TanhNormal(dist.loc.unsqueeze(1), dist.log_std.unsqueeze(1))


class SACSeedStack:
    """S SAC agents (one per seed) trained in lockstep. obs [S, n, O] -> actions [S, n, A];
    `update` takes one Batch per seed and returns metrics of shape [S]."""

    algo = "sac"
    metric_names = SACAgent.metric_names

    @staticmethod
    def check_config(cfg: SACConfig) -> None:
        """What the stack does not do yet: REDQ's delayed policy updates."""
        if cfg.policy_update_period != 1:
            raise KeelError("--seeds stacks SAC with a policy update every critic update; for "
                            f"--policy-update-period {cfg.policy_update_period}, train one run per --seed")

    def __init__(self, cfg: SACConfig, seeds: Sequence[int], spaces: Spaces, device: torch.device | str = "cpu") -> None:
        self.check_config(cfg)
        self.cfg, self.seeds, self.spaces = cfg, list(seeds), spaces
        self.device = d = torch.device(device)
        agents, self.generators = [], []
        with torch.random.fork_rng(devices=[]):
            for s in self.seeds:  # each seed's networks exactly as `--seed s` builds them
                torch.manual_seed(s)
                agents.append(SACAgent(cfg, spaces, d))
                g = torch.Generator(device=d)
                if d.type == "cpu":
                    g.set_state(torch.get_rng_state())  # the stream continues after the networks' init
                else:
                    g.manual_seed(s)                    # the init ran on the CPU generator
                self.generators.append(g)
        self.actor = StackedTanhGaussianActor([a.actor for a in agents]).to(d)
        self.critic = StackedEnsembleCritic([a.critic for a in agents]).to(d)
        self.critic_target = StackedEnsembleCritic([a.critic_target for a in agents]).to(d)
        self.critic_target.requires_grad_(False)
        self.log_alpha = torch.stack([a.log_alpha.detach() for a in agents]).requires_grad_(cfg.learn_alpha)
        self.target_entropy = agents[0].target_entropy
        self.actor_opt = adam(self.actor.parameters(), cfg.actor_lr)
        self.critic_opt = adam(self.critic.parameters(), cfg.critic_lr)
        self.alpha_opt = adam([self.log_alpha], cfg.alpha_lr) if cfg.learn_alpha else None
        self.bounds = ActionBounds(spaces.action_low, spaces.action_high, d)
        self.num_updates = 0

    @property
    def num_seeds(self) -> int:
        return len(self.seeds)

    def _noise(self, *shape: int) -> torch.Tensor:
        """Standard-normal noise [S, *shape], seed s's from seed s's own generator."""
        return torch.stack([torch.randn(shape, generator=g, device=self.device) for g in self.generators])

    # ---- acting
    def act(self, obs: np.ndarray | torch.Tensor, deterministic: bool = False) -> np.ndarray:
        """obs [S, n, O] -> env-space actions [S, n, A]. Acting runs seed by seed (batches of n are
        too small for batching to pay), each exactly as a single-seed agent acts."""
        return np.stack([self.act_seed(i, o, deterministic) for i, o in enumerate(obs)])

    @torch.no_grad()
    def act_seed(self, i: int, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Seed number i alone: obs [n, O] -> env-space actions [n, A]; a sample draws from seed i's stream."""
        dist = self.actor.forward_seed(i, torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device))
        if deterministic:
            return self.bounds.to_env(dist.mode)
        eps = torch.randn(dist.loc.shape, generator=self.generators[i], device=self.device)
        return self.bounds.to_env(dist.rsample_from(eps)[0])

    def to_policy_space(self, env_action: np.ndarray) -> np.ndarray:
        return self.bounds.to_policy(env_action)

    # ---- learning
    def _critic_values(self, critic: StackedEnsembleCritic, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """obs [S, B, O], actions [S, K, B, A] -> Q [S, N, K, B]."""
        s, k, b, _ = actions.shape
        obs_k = obs.unsqueeze(1).expand(s, k, b, obs.shape[-1]).reshape(s, k * b, -1)
        return critic(obs_k, actions.reshape(s, k * b, -1)).view(s, -1, k, b)

    def _actor_q(self, q: torch.Tensor) -> torch.Tensor:
        return q.min(1).values if self.cfg.actor_q == "min" else q.mean(1)

    def update(self, batches: Sequence[Batch]) -> dict[str, torch.Tensor]:
        """One SAC update of every seed, seed s on batches[s] (sac.SACAgent.update, S at a time)."""
        cfg, k = self.cfg, self.cfg.num_actor_samples
        obs, action, reward, next_obs, terminated = (torch.stack([getattr(b, f) for b in batches])
                                                     for f in ("obs", "action", "reward", "next_obs", "terminated"))
        s, b, a_dim = action.shape
        alpha = self.log_alpha.detach().exp()                                                    # [S]

        # Critic: regress Q_i(s, a) on the soft target, every seed on its own batch.
        with torch.no_grad():
            next_a, next_logp, _ = _expand(self.actor(next_obs)).rsample_from(self._noise(k, b, a_dim))
            q_next = self._critic_values(self.critic_target, next_obs, next_a)                  # [S, N, K, B]
            if cfg.backup == "redq":  # each seed draws its own subset, from its own stream
                subsets = [torch.randperm(cfg.num_critics, generator=g, device=self.device)[: cfg.redq_subset]
                           for g in self.generators]
                backed = torch.stack([backup_values(q_next[i], "redq", subsets[i]) for i in range(s)])
            else:
                backed = torch.vmap(partial(backup_values, backup=cfg.backup))(q_next)
            y = torch.vmap(partial(soft_q_target, gamma=cfg.gamma, backup_entropy=cfg.backup_entropy))(
                reward, terminated, backed, next_logp, alpha)
        loss_q, info = torch.vmap(critic_loss)(self.critic(obs, action), y)
        self.critic_opt.zero_grad(set_to_none=True)
        loss_q.sum().backward()
        self.critic_opt.step()

        # Actor, with the critics frozen.
        self.critic.requires_grad_(False)
        dist = self.actor(obs)
        if cfg.actor_gradient == "reparametrize":
            a, logp, _ = _expand(dist).rsample_from(self._noise(k, b, a_dim))
            loss_pi, info_pi = torch.vmap(actor_loss_reparametrized)(
                self._actor_q(self._critic_values(self.critic, obs, a)), logp, alpha)
        else:
            with torch.no_grad():
                a, _, u = _expand(dist).rsample_from(self._noise(k, b, a_dim))
                q_pi = self._actor_q(self._critic_values(self.critic, obs, a))
                baseline = self._actor_q(self._critic_values(self.critic, obs, dist.mode.unsqueeze(1)))[:, 0]
            logp = _expand(dist).log_prob_pre_tanh(u)
            loss_pi, info_pi = torch.vmap(actor_loss_reinforce)(q_pi, logp, baseline, alpha)
        self.actor_opt.zero_grad(set_to_none=True)
        loss_pi.sum().backward()
        self.actor_opt.step()
        self.critic.requires_grad_(True)
        info.update(info_pi)

        # Temperature.
        if self.alpha_opt is not None:
            loss_alpha, info_alpha = torch.vmap(partial(temperature_loss, target_entropy=self.target_entropy))(
                self.log_alpha, logp)
            self.alpha_opt.zero_grad(set_to_none=True)
            loss_alpha.sum().backward()
            self.alpha_opt.step()
            info.update(info_alpha)
        else:
            info["alpha"] = alpha

        self.num_updates += 1
        update_target_critic(self.critic_target, self.critic, cfg, self.num_updates)
        return info

    # ---- one seed as an ordinary SACAgent state (checkpoints, evaluation, resume)
    def _pairs(self, agent: SACAgent) -> list[tuple[torch.optim.Optimizer, list, torch.optim.Optimizer, list]]:
        """(stacked optimizer, its params in the single agent's order, single optimizer, single params)."""
        actor_stacked = [p for j in range(len(self.actor.net.weight)) for p in (self.actor.net.weight[j], self.actor.net.bias[j])]
        critic_stacked = [p for j in range(len(self.critic.weight)) for p in (self.critic.weight[j], self.critic.bias[j])]
        pairs = [(self.actor_opt, actor_stacked, agent.actor_opt, list(agent.actor.parameters())),
                 (self.critic_opt, critic_stacked, agent.critic_opt, list(agent.critic.parameters()))]
        if self.alpha_opt is not None:
            pairs.append((self.alpha_opt, [self.log_alpha], agent.alpha_opt, [agent.log_alpha]))
        return pairs

    def seed_agent(self, i: int) -> SACAgent:
        """Seed number i (its position in `seeds`) as an ordinary SACAgent: networks, temperature, Adam state."""
        with torch.random.fork_rng(devices=[]):
            agent = SACAgent(self.cfg, self.spaces, self.device)
        self.actor.net.copy_to(i, agent.actor)
        self.critic.copy_to(i, agent.critic)
        self.critic_target.copy_to(i, agent.critic_target)
        with torch.no_grad():
            agent.log_alpha.copy_(self.log_alpha[i])
        for opt, stacked, single_opt, single in self._pairs(agent):
            for p, q in zip(stacked, single):
                st = opt.state.get(p)
                if st:
                    single_opt.state[q] = {"step": st["step"].clone(), "exp_avg": self._slice(st["exp_avg"], i, q),
                                           "exp_avg_sq": self._slice(st["exp_avg_sq"], i, q)}
        agent.num_updates = self.num_updates
        return agent

    def load_seed_agent(self, i: int, agent: SACAgent) -> None:
        """Put an ordinary SACAgent's state into seed number i (resuming a group of seeds)."""
        self.actor.net.copy_from(i, agent.actor)
        self.critic.copy_from(i, agent.critic)
        self.critic_target.copy_from(i, agent.critic_target)
        with torch.no_grad():
            self.log_alpha[i] = agent.log_alpha.detach()
        for opt, stacked, single_opt, single in self._pairs(agent):
            for p, q in zip(stacked, single):
                st = single_opt.state.get(q)
                if not st:
                    continue
                if p not in opt.state or not opt.state[p]:
                    opt.state[p] = {key: torch.zeros_like(p) for key in ("exp_avg", "exp_avg_sq")}
                    opt.state[p]["step"] = st["step"].clone()
                dst = opt.state[p]
                dst["step"].copy_(st["step"])
                with torch.no_grad():
                    self._slice(dst["exp_avg"], i, q, copy=False).copy_(st["exp_avg"])
                    self._slice(dst["exp_avg_sq"], i, q, copy=False).copy_(st["exp_avg_sq"])
        self.num_updates = agent.num_updates

    @staticmethod
    def _slice(t: torch.Tensor, i: int, like: torch.Tensor, copy: bool = True) -> torch.Tensor:
        v = t[i].view(like.shape)
        return v.clone() if copy else v

    def seed_state_dict(self, i: int) -> dict:
        return self.seed_agent(i).state_dict()


STACKED = {"sac": SACSeedStack}
"""Algorithms that train several seeds in one process (`keel train ALGO --seeds`), and their stacked agents."""
