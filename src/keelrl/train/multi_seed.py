"""Several seeds of one off-policy run in one process (`keel train sac --env Hopper-v5 --seeds 0-4`).

Each seed has its own environments, replay buffer, numpy and torch random streams, evaluation
environment and run folder (BASE/s<seed>, an ordinary run folder). The agents' parameters are
stacked along a seed dimension (algos/sac_seeds.py), so one update of all seeds is one batched
matmul per layer. The loop is online.py's, seed by seed where the data differ.

Every seed's checkpoint is a single-seed checkpoint: `keel train --resume BASE/s3` continues seed 3
alone, and `keel train --resume BASE` continues the whole group in one process.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from keelrl import __version__
from keelrl.algos import agent_args, get_algo
from keelrl.algos.sac import SACAgent
from keelrl.algos.sac_seeds import SACSeedStack
from keelrl.data.replay import ReplayBuffer
from keelrl.envs.make import make_env, make_vector_env, true_next_obs, vector_restore, vector_snapshot
from keelrl.errors import KeelError
from keelrl.train.checkpoint import CHECKPOINT_NAME, atomic_torch_save, atomic_write_text, keep_copy, read_checkpoint
from keelrl.train.compiled import compile_networks
from keelrl.train.config import RunConfig, parse_seeds
from keelrl.train.logging import EpisodeTracker, ProgressBar, RunLogger
from keelrl.train.session import (CONFIG_NAME, StopFlag, check_finite, evaluate_and_log, finish_run, prepare_run_dir,
                                  resolve_device)

STACKED = {"sac": SACSeedStack}
"""Algorithms that train several seeds in one process, and their stacked agents."""


class SeedView:
    """Seed i of a stack, seen as an ordinary agent by evaluation."""

    def __init__(self, stack, i: int) -> None:
        self.stack, self.i = stack, i

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return self.stack.act_seed(self.i, obs, deterministic)


def seed_dirs(base: Path, seeds: list[int]) -> list[Path]:
    return [base / f"s{s}" for s in seeds]


def train(algo: str, run: RunConfig, cfg, callback: Callable[[int], bool] | None = None) -> list[Path]:
    """Start len(seeds) runs of `algo` in one process; return their folders."""
    if algo not in STACKED:
        raise KeelError(f"--seeds trains several seeds in one process for {', '.join(STACKED)}; "
                        f"for {algo}, start one run per --seed (or use keel sweep)")
    if run.cuda_graphs:
        raise KeelError("--cuda-graphs captures a single-seed update; with --seeds, leave it off (--compile works)")
    seeds = parse_seeds(run.seeds)
    base = Path(run.run_dir) if run.run_dir else (
        Path("runs") / f"{algo}-{run.env}-seeds{run.seeds}-{datetime.now():%Y%m%d-%H%M%S}")
    resolve_device(run.device)
    probe = make_env(run.env)
    try:
        agent_args(get_algo(algo), probe)
    finally:
        probe.close()
    dirs = seed_dirs(base, seeds)
    for d in dirs:
        if d.exists() and any(d.iterdir()) and not run.overwrite:
            raise KeelError(f"run folder {d} already exists; pass --overwrite to replace the group, "
                            f"--resume {base} to continue it, or choose another --run-dir")
    runs = []
    for s, d in zip(seeds, dirs):
        prepare_run_dir(d, run.overwrite)
        r = replace(run, seed=s, seeds="", run_dir=str(d))
        meta = {"algo": algo, "keelrl_version": __version__, "torch_version": torch.__version__, "run": asdict(r),
                "algo_config": asdict(cfg), "seed_group": {"base": str(base), "seeds": seeds}}
        atomic_write_text(json.dumps(meta, indent=2), d / CONFIG_NAME)
        runs.append(r)
    return MultiSeedLoop(algo, runs, cfg, base).run(callback)


def group_dirs(base: Path) -> list[Path] | None:
    """The seed folders of a group started with --seeds (BASE/s<seed> with a checkpoint), or None."""
    if (base / CONFIG_NAME).exists() or not base.is_dir():
        return None
    dirs = sorted((d for d in base.iterdir() if d.is_dir() and (d / CHECKPOINT_NAME).exists()
                   and (d / CONFIG_NAME).exists() and "seed_group" in json.loads((d / CONFIG_NAME).read_text())),
                  key=lambda d: json.loads((d / CONFIG_NAME).read_text())["run"]["seed"])
    return dirs or None


def resume(base: Path, total_steps: int | None = None, callback: Callable[[int], bool] | None = None,
           progress: bool | None = None) -> list[Path]:
    """Continue every seed of the group in `base` from its checkpoint, in one process."""
    dirs = group_dirs(base)
    if dirs is None:
        raise KeelError(f"cannot resume {base}: it is neither a keelrl run folder nor a folder of seed runs")
    ckpts = [read_checkpoint(d / CHECKPOINT_NAME) for d in dirs]
    steps = {c["loop"]["step"] for c in ckpts}
    if len(steps) != 1 or len({c["algo"] for c in ckpts}) != 1:
        raise KeelError(f"the seed runs in {base} are at different steps {sorted(steps)}; "
                        f"resume each alone with keel train --resume {dirs[0]}")
    algo, step = ckpts[0]["algo"], steps.pop()
    runs = [RunConfig(**c["run_config"]) for c in ckpts]
    for r, d in zip(runs, dirs):
        r.run_dir = str(d)
        if total_steps is not None:
            r.total_steps = total_steps
            meta = json.loads((d / CONFIG_NAME).read_text())
            meta["run"]["total_steps"] = total_steps
            atomic_write_text(json.dumps(meta, indent=2), d / CONFIG_NAME)
        if progress is not None:
            r.progress = progress
    if runs[0].total_steps <= step:
        raise KeelError(f"the runs in {base} are already at step {step} of {runs[0].total_steps}; "
                        f"pass --total-steps N with N > {step} to train them further")
    cfg = get_algo(algo).config(**ckpts[0]["algo_config"])
    return MultiSeedLoop(algo, runs, cfg, base, ckpts).run(callback)


class MultiSeedLoop:
    def __init__(self, algo: str, runs: list[RunConfig], cfg, base: Path, ckpts: list[dict] | None = None) -> None:
        self.algo, self.runs, self.cfg, self.base = algo, runs, cfg, base
        run = self.run_cfg = runs[0]
        self.seeds = [r.seed for r in runs]
        self.dirs = [Path(r.run_dir) for r in runs]
        self.device = resolve_device(run.device)
        if run.threads > 0:
            torch.set_num_threads(run.threads)
        self.envs = [make_vector_env(run.env, run.num_envs) for _ in runs]
        obs_dim, act_dim, low, high = agent_args(get_algo(algo), self.envs[0])
        self.agent = STACKED[algo](cfg, self.seeds, obs_dim, act_dim, low, high, self.device)
        if run.compile:
            compile_networks(self.agent)
        self.buffers = [ReplayBuffer(cfg.buffer_size, obs_dim, act_dim, self.device, seed=s) for s in self.seeds]
        self.np_rngs = [np.random.default_rng(s) for s in self.seeds]
        self.eval_envs = [make_env(run.env) if run.eval_episodes > 0 else None for _ in runs]
        self.episodes = [EpisodeTracker(run.num_envs) for _ in runs]
        self.step, self.update_debt, self.wall_offset = 0, 0.0, 0.0
        self.last_eval: list[float | None] = [None] * len(runs)
        self.last_eval_step: int | None = None
        self.metrics: dict[str, torch.Tensor] = {}
        if ckpts is None:
            self.obs = []
            for env, s in zip(self.envs, self.seeds):
                self.obs.append(env.reset(seed=s)[0])
                env.action_space.seed(s)
        else:
            self._restore(ckpts)

    # ---- checkpoints: one ordinary single-seed checkpoint per seed folder
    def _rng_state(self, i: int) -> dict:
        g = self.agent.generators[i]
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        if self.device.type == "cuda":
            cuda[self.device.index or 0] = g.get_state()
        return {"torch": g.get_state() if self.device.type == "cpu" else torch.get_rng_state(),
                "numpy_global": np.random.get_state(), "python": random.getstate(),
                "np_rng": self.np_rngs[i].bit_generator.state, "cuda": cuda}

    def _checkpoint(self) -> None:
        wall = self.wall_offset + time.perf_counter() - self.t0
        for i, (run, d) in enumerate(zip(self.runs, self.dirs)):
            atomic_torch_save({
                "keelrl": "run", "algo": self.algo, "agent": self.agent.seed_state_dict(i),
                "buffer": self.buffers[i].state_dict(), "rng": self._rng_state(i), "envs": vector_snapshot(self.envs[i]),
                "nstep": None, "run_config": asdict(run), "algo_config": asdict(self.cfg),
                "loop": {"step": self.step, "obs": self.obs[i], "update_debt": self.update_debt,
                         **self.episodes[i].state_dict(), "last_eval": self.last_eval[i],
                         "last_eval_step": self.last_eval_step,
                         "metrics": {k: v[i].detach().cpu() for k, v in self.metrics.items()}, "wall": wall},
            }, d / CHECKPOINT_NAME)
            if run.keep_checkpoints:
                keep_copy(d / CHECKPOINT_NAME, self.step)
        self.last_checkpoint_step = self.step

    def _restore(self, ckpts: list[dict]) -> None:
        for i, c in enumerate(ckpts):
            self.agent.load_seed_agent(i, SACAgent.from_state_dict(c["agent"], self.device))
            self.buffers[i].load_state_dict(c["buffer"])
            vector_restore(self.envs[i], c["envs"])
            rng = c["rng"]
            self.agent.generators[i].set_state(rng["torch"] if self.device.type == "cpu"
                                               else rng["cuda"][self.device.index or 0])
            self.np_rngs[i].bit_generator.state = rng["np_rng"]
            self.episodes[i].load_state_dict(c["loop"])
            self.last_eval[i] = c["loop"]["last_eval"]
        loop = ckpts[0]["loop"]
        self.step, self.update_debt, self.wall_offset = loop["step"], loop["update_debt"], loop["wall"]
        self.last_eval_step = loop["last_eval_step"]
        self.obs = [c["loop"]["obs"] for c in ckpts]
        if loop["metrics"]:
            self.metrics = {k: torch.stack([c["loop"]["metrics"][k] for c in ckpts]).to(self.device)
                            for k in loop["metrics"]}

    # ---- the loop (online.py's, for S seeds)
    def run(self, callback: Callable[[int], bool] | None) -> list[Path]:
        run, cfg, n = self.run_cfg, self.cfg, self.run_cfg.num_envs
        resumed_from = self.step if self.step > 0 else None
        self.t0 = time.perf_counter()
        self.last_checkpoint_step = resumed_from
        names = list(self.agent.metric_names)
        logs = [RunLogger(d, names, resume_step=resumed_from) for d in self.dirs]
        bar = ProgressBar(run.total_steps, self.step, run.progress, f"{self.algo} {run.env} ×{len(self.seeds)} seeds")
        sps_t, sps_step = time.perf_counter(), self.step
        try:
            with StopFlag() as flag:
                while self.step < run.total_steps:
                    prev = self.step
                    if self.step < cfg.learning_starts:
                        actions = [rng.uniform(e.single_action_space.low, e.single_action_space.high,
                                               size=(n, e.single_action_space.shape[0])).astype(np.float32)
                                   for rng, e in zip(self.np_rngs, self.envs)]
                    else:
                        actions = self.agent.act(np.stack(self.obs))
                    self.step += n
                    for i, env in enumerate(self.envs):
                        next_obs, reward, term, trunc, info = env.step(actions[i])
                        done = term | trunc
                        self.buffers[i].add(self.obs[i], self.agent.to_policy_space(actions[i]), reward,
                                            true_next_obs(next_obs, done, info), term)
                        self.obs[i] = next_obs
                        self.episodes[i].step(reward, done, self.step, logs[i])

                    if prev >= cfg.learning_starts:
                        self.update_debt += n * cfg.updates_per_step
                        while self.update_debt >= 1.0:
                            self.update_debt -= 1.0
                            self.metrics = self.agent.update([b.sample(cfg.batch_size) for b in self.buffers])
                            if self.device.type == "cpu":
                                self._check_finite()

                    if run.eval_every and self.step // run.eval_every > prev // run.eval_every:
                        self._evaluate(logs)
                    if self.step // run.log_every > prev // run.log_every:
                        if self.metrics and self.device.type != "cpu":
                            self._check_finite()
                        now = time.perf_counter()
                        sps = (self.step - sps_step) / max(now - sps_t, 1e-9)
                        sps_t, sps_step = now, self.step
                        values = {k: v.tolist() for k, v in self.metrics.items()}   # one transfer for all seeds
                        for i, log in enumerate(logs):
                            log.log_metrics(self.step, {"updates": self.agent.num_updates, "sps": round(sps, 1),
                                                        **{k: v[i] for k, v in values.items()}})
                        bar.update(self.step, sps, self._mean([e.last_return for e in self.episodes]),
                                   self._mean(self.last_eval))
                    stop = (callback is not None and callback(self.step)) or flag.stop
                    if self.step // run.checkpoint_every > prev // run.checkpoint_every or stop:
                        if self.metrics:
                            self._check_finite()
                        self._checkpoint()
                    if stop:
                        print(f"stopped at step {self.step}; checkpoints saved. Continue with: keel train --resume {self.base}")
                        return self.dirs
                if self.last_eval_step != self.step:
                    self._evaluate(logs)
                if self.last_checkpoint_step != self.step:
                    self._checkpoint()
        finally:
            bar.close()
            for log in logs:
                log.close()
            for env in self.envs:
                env.close()
        for run_i, d, ev in zip(self.runs, self.dirs, self.last_eval):
            finish_run(d, replace(run_i, progress=False), self.step, ev)
        if run.progress:
            evals = ", ".join("-" if e is None else f"{e:.1f}" for e in self.last_eval)
            print(f"done: {self.step} steps × {len(self.seeds)} seeds, final evaluation returns {evals}\n"
                  f"run folders: {self.base}/s{{{','.join(map(str, self.seeds))}}}")
        return self.dirs

    @staticmethod
    def _mean(values: list[float | None]) -> float | None:
        have = [v for v in values if v is not None]
        return float(np.mean(have)) if have else None

    def _check_finite(self) -> None:
        values = torch.stack([v.float() for v in self.metrics.values()])       # [M, S]
        if bool(torch.isfinite(values).all()):
            return
        for i, d in enumerate(self.dirs):  # name the first diverged seed's folder
            check_finite({k: v[i] for k, v in self.metrics.items()}, self.step, self.agent.num_updates, d,
                         self.last_checkpoint_step)

    def _evaluate(self, logs: list[RunLogger]) -> None:
        wall = self.wall_offset + time.perf_counter() - self.t0
        for i, env in enumerate(self.eval_envs):
            if env is not None:
                self.last_eval[i], self.last_eval_step = evaluate_and_log(SeedView(self.agent, i), env, self.runs[i],
                                                                          self.step, logs[i], wall)
