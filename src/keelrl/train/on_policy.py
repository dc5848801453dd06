"""The on-policy loop, for algorithms that train from rollouts (`trains_from = "rollouts"`):
collect a rollout from the vector env, update, repeat. Evaluation falls where its step comes,
also inside a rollout; logging and checkpoint timing are the skeleton's.

A checkpoint is written between iterations, so it holds the agent (networks, optimizer,
observation and reward normalization statistics), the environments, RNG states and counters, and
a resumed run continues exactly as the uninterrupted one would.
"""
from __future__ import annotations

from pathlib import Path

import torch

from keelrl.algos import build_agent
from keelrl.algos.spec import AlgoSpec, Rollouts
from keelrl.data.rollout import RolloutBuffer
from keelrl.envs.make import make_env, make_vector_env, true_next_obs
from keelrl.envs.state import set_vector_state, vector_state
from keelrl.speed.learner import learner_update
from keelrl.train.checkpoint import rng_state, set_rng_state
from keelrl.train.config import RunConfig
from keelrl.train.logging import EpisodeTracker
from keelrl.train.skeleton import Member, RunSkeleton, setup_process
from keelrl.types import Spaces


class RolloutLoop:
    def __init__(self, spec: AlgoSpec, run: RunConfig, cfg, run_dir: Path, ckpt: dict | None = None) -> None:
        self.spec, self.run_cfg, self.cfg, self.run_dir = spec, run, cfg, run_dir
        self.needs: Rollouts = spec.needs(cfg)
        self.device, self.np_rng = setup_process(run, ckpt)
        if spec.check_run is not None:
            spec.check_run(run, cfg)
        self.envs = make_vector_env(run.env, run.num_envs, run.env_kwargs, run.wrappers)
        spaces = Spaces.of(self.envs)
        self.agent = build_agent(spec, cfg, spaces, self.device)
        self.rollout = RolloutBuffer.for_spaces(self.needs.steps, run.num_envs, spaces, self.device)
        eval_env = make_env(run.env, kwargs=run.env_kwargs, wrappers=run.wrappers) if run.eval_episodes > 0 else None
        self.episodes = EpisodeTracker(run.num_envs)
        self.skeleton = RunSkeleton(self, spec.name, cfg, [Member(run, run_dir, self.agent, eval_env, self.episodes)],
                                    f"{spec.name} {run.env}", list(self.agent.metric_names), self.device)
        self.step = 0
        self.metrics: dict[str, torch.Tensor] = {}
        if ckpt is None:
            raw, _ = self.envs.reset(seed=run.seed)
            self.obs = self.agent.normalize_obs(raw, update=True)
        else:
            self._restore(ckpt)
        self.update = learner_update(self.agent, spec, cfg, self.device, run.compile, run.cuda_graphs)

    def checkpoint_state(self, i: int = 0) -> dict:
        return {"agent": self.agent.state_dict(), "rng": rng_state(self.np_rng), "envs": vector_state(self.envs),
                "loop": {"step": self.step, "obs": self.obs.cpu(), **self.episodes.state_dict()}}

    def _restore(self, ckpt: dict) -> None:
        self.agent.load_state_dict(ckpt["agent"])
        set_rng_state(ckpt["rng"], self.np_rng)
        loop = ckpt["loop"]
        self.step, self.obs = loop["step"], loop["obs"].to(self.device)
        self.episodes.load_state_dict(loop)
        for i, first in set_vector_state(self.envs, ckpt["envs"], self.run_cfg.seed + self.step).items():
            self.obs[i] = self.agent.normalize_obs(first[None])[0]   # a new episode (state not saved whole)
            self.episodes.restart(i)
        self.skeleton.load_state_dict([loop])

    def _collect(self) -> None:
        """Fill the rollout: `steps` steps of every copy, evaluating when a step crosses eval_every."""
        agent, n = self.agent, self.run_cfg.num_envs
        self.rollout.reset()
        while not self.rollout.full:
            prev = self.step
            action, log_prob, value = agent.sample(self.obs)
            raw_next, reward, term, trunc, info = self.envs.step(agent.to_env(action))
            done = term | trunc
            real_next = true_next_obs(raw_next, done, info)
            next_obs = agent.normalize_obs(raw_next, update=True)
            true_next = agent.normalize_obs(real_next) if done.any() else next_obs
            self.rollout.add(self.obs, action, log_prob, value, agent.scale_reward(reward, done), true_next.cpu().numpy(),
                             term, done)
            self.obs = next_obs
            self.step += n
            self.episodes.step(reward, done, self.step, self.skeleton.logs[0])
            self.skeleton.evaluate_if_due(prev)

    def iterate(self) -> None:
        """One rollout, then one update on it, the learning rate annealed by the budget left when the
        iteration began: the first update uses the full rate, the last 1/N of it (N iterations)."""
        remaining = max(1.0 - self.step / self.run_cfg.total_steps, 0.0)
        self._collect()
        self.metrics = self.update(self.rollout, remaining)
        self.skeleton.check_finite(self.metrics)

    def run(self, callback=None) -> Path:
        return self.skeleton.run(callback)[0]

    def close(self) -> None:
        self.envs.close()
