"""The on-policy training loop (PPO): collect a rollout from the vector env, update, repeat.

The run folder and the checkpoint are those of the off-policy loop (train/online.py), without a
replay buffer: a checkpoint is written between iterations, so it holds the agent (networks,
optimizer, observation and reward normalization statistics), the environments, RNG states and
counters, and a resumed run continues exactly as the uninterrupted one would.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable


from keelrl.algos import build_agent, get_algo
from keelrl.data.rollout import RolloutBuffer
from keelrl.envs.make import make_env, make_vector_env, true_next_obs, vector_restore, vector_snapshot
from keelrl.errors import KeelError
from keelrl.train.checkpoint import CHECKPOINT_NAME, atomic_torch_save, keep_copy, rng_state, set_rng_state
from keelrl.train.config import RunConfig
from keelrl.train.logging import EpisodeTracker, ProgressBar, RunLogger
from keelrl.train.session import StopFlag, check_finite, evaluate_and_log, finish_run, learner_update, setup_process


def check_run(run: RunConfig, cfg) -> None:
    """What the Config alone cannot check: the minibatch size depends on num_envs."""
    minibatch = cfg.rollout_steps * run.num_envs // cfg.num_minibatches
    if minibatch < 2:
        raise KeelError(f"rollout_steps × num_envs ({cfg.rollout_steps} × {run.num_envs}) split into num_minibatches="
                        f"{cfg.num_minibatches} leaves minibatches of {minibatch} sample; they need at least 2 "
                        f"(advantages are normalized per minibatch): raise rollout_steps or lower num_minibatches")


class RolloutLoop:
    def __init__(self, algo: str, run: RunConfig, cfg, run_dir: Path, ckpt: dict | None = None) -> None:
        self.algo, self.run_cfg, self.cfg, self.run_dir = algo, run, cfg, run_dir
        self.device, self.np_rng = setup_process(run)
        check_run(run, cfg)
        self.envs = make_vector_env(run.env, run.num_envs)
        self.agent = build_agent(get_algo(algo), cfg, self.envs, self.device)
        space = self.envs.single_action_space
        self.rollout = RolloutBuffer(cfg.rollout_steps, run.num_envs, self.envs.single_observation_space.shape[0],
                                     None if self.agent.discrete else space.shape[0], self.device)
        self.eval_env = make_env(run.env) if run.eval_episodes > 0 else None
        self.step, self.wall_offset = 0, 0.0
        self.last_eval, self.last_eval_step = None, None
        self.episodes = EpisodeTracker(run.num_envs)
        if ckpt is None:
            raw, _ = self.envs.reset(seed=run.seed)
            self.obs = self.agent.normalize_obs(raw, update=True)
        else:
            self._restore(ckpt)
        self.update = learner_update(self.agent, algo, cfg, self.device, run.compile, run.cuda_graphs)

    def _checkpoint(self) -> None:
        atomic_torch_save({
            "keelrl": "run", "algo": self.algo, "agent": self.agent.state_dict(),
            "rng": rng_state(self.np_rng), "envs": vector_snapshot(self.envs),
            "run_config": asdict(self.run_cfg), "algo_config": asdict(self.cfg),
            "loop": {"step": self.step, "obs": self.obs.cpu(), **self.episodes.state_dict(),
                     "last_eval": self.last_eval, "last_eval_step": self.last_eval_step,
                     "wall": self.wall_offset + time.perf_counter() - self.t0},
        }, self.run_dir / CHECKPOINT_NAME)
        self.last_checkpoint_step = self.step
        if self.run_cfg.keep_checkpoints:
            keep_copy(self.run_dir / CHECKPOINT_NAME, self.step)

    def _restore(self, ckpt: dict) -> None:
        self.agent.load_state_dict(ckpt["agent"])
        vector_restore(self.envs, ckpt["envs"])
        set_rng_state(ckpt["rng"], self.np_rng)
        loop = ckpt["loop"]
        self.step, self.obs = loop["step"], loop["obs"].to(self.device)
        self.episodes.load_state_dict(loop)
        self.last_eval, self.wall_offset = loop["last_eval"], loop["wall"]
        self.last_eval_step = loop["last_eval_step"]

    def _collect(self, log: RunLogger) -> None:
        """Fill the rollout: rollout_steps steps of every copy, evaluating when a step crosses eval_every."""
        agent, run, n = self.agent, self.run_cfg, self.run_cfg.num_envs
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
            self.episodes.step(reward, done, self.step, log)
            if run.eval_every and self.step // run.eval_every > prev // run.eval_every:
                self._evaluate(log)

    def run(self, callback: Callable[[int], bool] | None) -> Path:
        run = self.run_cfg
        resumed_from = self.step if self.step > 0 else None
        self.t0 = time.perf_counter()
        self.last_checkpoint_step = resumed_from
        log = RunLogger(self.run_dir, list(self.agent.metric_names), resume_step=resumed_from)
        bar = ProgressBar(run.total_steps, self.step, run.progress, f"{self.algo} {run.env}")
        try:
            with StopFlag() as flag:
                while self.step < run.total_steps:
                    prev, t_start = self.step, time.perf_counter()
                    self._collect(log)
                    metrics = self.update(self.rollout, max(1.0 - self.step / run.total_steps, 0.0))
                    check_finite(metrics, self.step, self.agent.num_updates, self.run_dir, self.last_checkpoint_step)
                    sps = (self.step - prev) / max(time.perf_counter() - t_start, 1e-9)
                    if self.step // run.log_every > prev // run.log_every:
                        log.log_metrics(self.step, {"updates": self.agent.num_updates, "sps": round(sps, 1),
                                                    **{k: float(v) for k, v in metrics.items()}})
                    bar.update(self.step, sps, self.episodes.last_return, self.last_eval)
                    stop = (callback is not None and callback(self.step)) or flag.stop
                    if self.step // run.checkpoint_every > prev // run.checkpoint_every or stop:
                        self._checkpoint()
                    if stop:
                        print(f"stopped at step {self.step}; checkpoint saved. Continue with: keel train --resume {self.run_dir}")
                        return self.run_dir
                if self.last_eval_step != self.step:
                    self._evaluate(log)
                if self.last_checkpoint_step != self.step:
                    self._checkpoint()
        finally:
            bar.close()
            log.close()
            self.envs.close()
        finish_run(self.run_dir, run, self.step, self.last_eval)
        return self.run_dir

    def _evaluate(self, log: RunLogger) -> None:
        if self.eval_env is not None:
            self.last_eval, self.last_eval_step = evaluate_and_log(self.agent, self.eval_env, self.run_cfg, self.step, log,
                                                                   self.wall_offset + time.perf_counter() - self.t0)
