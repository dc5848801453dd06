"""`train` and `resume` for every algorithm (on-policy ones run train/on_policy.py's RolloutLoop), and
the loop for off-policy agents: act, step, store, update, evaluate, checkpoint.

A run folder holds config.json, eval.csv, train.csv, metrics.csv, tb/ (TensorBoard events),
checkpoint.pt and learning_curve.png. A checkpoint holds everything the loop needs to continue
bit-for-bit: agent and optimizers, replay buffer, RNG states, environment states, step counters.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from keelrl import __version__
from keelrl.algos import agent_args, build_agent, get_algo
from keelrl.data.nstep import NStepWriter
from keelrl.data.replay import ReplayBuffer
from keelrl.envs.make import make_env, make_vector_env, true_next_obs, vector_restore, vector_snapshot
from keelrl.errors import KeelError
from keelrl.train.checkpoint import (CHECKPOINT_NAME, atomic_torch_save, atomic_write_text, keep_copy, read_checkpoint,
                                     rng_state, set_rng_state)
from keelrl.train import multi_seed, offline
from keelrl.train.config import OfflineRunConfig, RunConfig
from keelrl.train.logging import EpisodeTracker, ProgressBar, RunLogger
from keelrl.train.on_policy import RolloutLoop, check_run
from keelrl.train.session import (CONFIG_NAME, StopFlag, TrainingDiverged, check_finite, default_run_dir,  # noqa: F401
                                  evaluate_and_log, finish_run, learner_update, prepare_run_dir, resolve_device,
                                  setup_process)


def train(algo: str, run: RunConfig | OfflineRunConfig, cfg, callback: Callable[[int], bool] | None = None) -> Path:
    """Start a new run of `algo` with its Config `cfg`; return the run folder. Offline algorithms
    take an OfflineRunConfig (a dataset instead of an environment) and run train/offline.py's loop.

    `callback(step)` is called after every loop iteration; returning True stops the run the way
    Ctrl-C does (checkpoint, then return).
    """
    spec = get_algo(algo)
    if spec.loop == "offline":
        if not isinstance(run, OfflineRunConfig):
            raise KeelError(f"{algo} trains offline: give it an OfflineRunConfig (keel train {algo} --dataset ID)")
        return offline.train(algo, run, cfg, callback)
    if isinstance(run, OfflineRunConfig):
        raise KeelError(f"{algo} trains online in an environment: give it a RunConfig (keel train {algo} --env ENV_ID)")
    if not isinstance(cfg, spec.config):
        raise KeelError(f"{algo} expects a {spec.config.__name__}, got {type(cfg).__name__}")
    if run.seeds:
        return multi_seed.train(algo, run, cfg, callback)[0].parent
    run_dir = Path(run.run_dir) if run.run_dir else default_run_dir(algo, run)
    resolve_device(run.device)  # a device, env id or space we cannot use fails here, before any folder is touched
    probe = make_env(run.env)
    try:
        agent_args(spec, probe)
    finally:
        probe.close()
    if spec.loop == "on_policy":
        check_run(run, cfg)
    if run.cuda_graphs:
        from keelrl.train.cuda_graph import check_cuda_graphs
        check_cuda_graphs(algo, spec.loop, cfg, resolve_device(run.device), run.compile)
    prepare_run_dir(run_dir, run.overwrite)
    run.run_dir = str(run_dir)
    meta = {"algo": algo, "keelrl_version": __version__, "torch_version": torch.__version__,
            "run": asdict(run), "algo_config": asdict(cfg)}
    atomic_write_text(json.dumps(meta, indent=2), run_dir / CONFIG_NAME)
    return _loop_class(spec)(algo, run, cfg, run_dir).run(callback)


def resume(run_dir: str | Path, total_steps: int | None = None, callback: Callable[[int], bool] | None = None,
           progress: bool | None = None) -> Path:
    """Continue the run in `run_dir` from its checkpoint (optionally to a new `total_steps`)."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_NAME).exists() and run_dir.is_dir():
        if multi_seed.group_dirs(run_dir):  # a folder of seeds trained together (--seeds): continue them together
            return multi_seed.resume(run_dir, total_steps, callback, progress)[0].parent
    if not (run_dir / CONFIG_NAME).exists():
        raise KeelError(f"cannot resume {run_dir}: it is not a keelrl run folder (no {CONFIG_NAME})")
    ckpt = read_checkpoint(run_dir / CHECKPOINT_NAME)
    if ckpt["keelrl"] != "run":
        raise KeelError(f"{run_dir / CHECKPOINT_NAME} holds an agent, not a run checkpoint")
    spec = get_algo(ckpt["algo"])
    run = (OfflineRunConfig if spec.loop == "offline" else RunConfig)(**ckpt["run_config"])
    cfg = spec.config(**ckpt["algo_config"])
    step = ckpt["loop"]["step"]
    if total_steps is not None:
        run.total_steps = total_steps
    if run.total_steps <= step:
        raise KeelError(f"run {run_dir} is already at step {step} of {run.total_steps}; "
                        f"pass --total-steps N with N > {step} to train it further")
    if progress is not None:
        run.progress = progress
    run.run_dir = str(run_dir)
    if total_steps is not None:  # the run folder's config records the budget it now has
        meta = json.loads((run_dir / CONFIG_NAME).read_text())
        meta["run"]["total_steps"] = run.total_steps
        atomic_write_text(json.dumps(meta, indent=2), run_dir / CONFIG_NAME)
    return _loop_class(spec)(ckpt["algo"], run, cfg, run_dir, ckpt).run(callback)


def _loop_class(spec):
    return {"on_policy": RolloutLoop, "offline": offline.OfflineLoop}.get(spec.loop, _Loop)


class _Loop:
    def __init__(self, algo: str, run: RunConfig, cfg, run_dir: Path, ckpt: dict | None = None) -> None:
        self.algo, self.run_cfg, self.cfg, self.run_dir = algo, run, cfg, run_dir
        self.device, self.np_rng = setup_process(run)

        self.envs = make_vector_env(run.env, run.num_envs)
        self.agent = build_agent(get_algo(algo), cfg, self.envs, self.device)
        space = self.envs.single_action_space
        self.discrete = not isinstance(space, gym.spaces.Box)
        n_step = getattr(cfg, "n_step", 1)
        self.buffer = ReplayBuffer(cfg.buffer_size, self.envs.single_observation_space.shape[0],
                                   None if self.discrete else space.shape[0], self.device, seed=run.seed,
                                   with_discount=n_step > 1)
        self.writer = NStepWriter(self.buffer, n_step, cfg.gamma, run.num_envs) if n_step > 1 else None
        self.eval_env = make_env(run.env) if run.eval_episodes > 0 else None

        self.step, self.update_debt, self.wall_offset = 0, 0.0, 0.0
        self.last_eval, self.last_eval_step = None, None
        self.metrics: dict[str, torch.Tensor] = {}
        self.episodes = EpisodeTracker(run.num_envs)
        if ckpt is None:
            self.obs, _ = self.envs.reset(seed=run.seed)
            self.envs.action_space.seed(run.seed)
        else:
            self._restore(ckpt)
        self.update = learner_update(self.agent, algo, cfg, self.device, run.compile, run.cuda_graphs)

    # ---- checkpoints
    def _checkpoint(self) -> None:
        atomic_torch_save({
            "keelrl": "run", "algo": self.algo, "agent": self.agent.state_dict(), "buffer": self.buffer.state_dict(),
            "rng": rng_state(self.np_rng), "envs": vector_snapshot(self.envs),
            "nstep": None if self.writer is None else self.writer.state_dict(),
            "run_config": asdict(self.run_cfg), "algo_config": asdict(self.cfg),
            "loop": {"step": self.step, "obs": self.obs, "update_debt": self.update_debt,
                     **self.episodes.state_dict(),
                     "last_eval": self.last_eval, "last_eval_step": self.last_eval_step,
                     "metrics": {k: v.detach().cpu() for k, v in self.metrics.items()},
                     "wall": self.wall_offset + time.perf_counter() - self.t0},
        }, self.run_dir / CHECKPOINT_NAME)
        self.last_checkpoint_step = self.step
        if self.run_cfg.keep_checkpoints:
            keep_copy(self.run_dir / CHECKPOINT_NAME, self.step)

    def _restore(self, ckpt: dict) -> None:
        self.agent.load_state_dict(ckpt["agent"])
        self.buffer.load_state_dict(ckpt["buffer"])
        if self.writer is not None:
            self.writer.load_state_dict(ckpt["nstep"])
        vector_restore(self.envs, ckpt["envs"])
        set_rng_state(ckpt["rng"], self.np_rng)
        loop = ckpt["loop"]
        self.step, self.obs, self.update_debt = loop["step"], loop["obs"], loop["update_debt"]
        self.episodes.load_state_dict(loop)
        self.last_eval, self.wall_offset = loop["last_eval"], loop["wall"]
        self.last_eval_step = loop["last_eval_step"]
        self.metrics = {k: v.to(self.device) for k, v in loop["metrics"].items()}  # the last update's, until the next

    # ---- the loop
    def run(self, callback: Callable[[int], bool] | None) -> Path:
        run, cfg = self.run_cfg, self.cfg
        resumed_from = self.step if self.step > 0 else None
        self.t0 = time.perf_counter()
        self.last_checkpoint_step = resumed_from
        n = run.num_envs
        log = RunLogger(self.run_dir, self._metric_names(), resume_step=resumed_from)
        bar = ProgressBar(run.total_steps, self.step, run.progress, f"{self.algo} {run.env}")
        sps_t, sps_step = time.perf_counter(), self.step
        try:
            with StopFlag() as flag:
                while self.step < run.total_steps:
                    prev = self.step
                    if self.step < cfg.learning_starts:
                        env_action = self._random_actions(n)
                    else:
                        env_action = self.agent.explore(self.obs, self.step)
                    next_obs, reward, term, trunc, info = self.envs.step(env_action)
                    done = term | trunc
                    real_next = true_next_obs(next_obs, done, info)
                    if self.writer is None:
                        self.buffer.add(self.obs, self.agent.to_policy_space(env_action), reward, real_next, term)
                    else:
                        self.writer.add(self.obs, self.agent.to_policy_space(env_action), reward, real_next, term, trunc)
                    self.obs = next_obs
                    self.step += n
                    self.episodes.step(reward, done, self.step, log)

                    if prev >= cfg.learning_starts:  # the first learning_starts steps only fill the buffer
                        self.update_debt += n * cfg.updates_per_step
                        every = getattr(cfg, "update_every", 1)  # updates owed are paid in bursts every `every` steps
                        while self.update_debt >= 1.0 and (every == 1 or self.step // every > prev // every):
                            self.update_debt -= 1.0
                            self.metrics = self.update(self.buffer.sample(cfg.batch_size))
                            if self.device.type == "cpu":  # on CPU the check costs microseconds
                                self._check_finite(self.metrics)

                    if run.eval_every and self.step // run.eval_every > prev // run.eval_every:
                        self._evaluate(log)
                    if self.step // run.log_every > prev // run.log_every:
                        if self.metrics and self.device.type != "cpu":  # on a GPU, check only when logging:
                            self._check_finite(self.metrics)          # a NaN persists, no update waits on it
                        now = time.perf_counter()
                        sps = (self.step - sps_step) / max(now - sps_t, 1e-9)
                        sps_t, sps_step = now, self.step
                        log.log_metrics(self.step, {"updates": self.agent.num_updates, "sps": round(sps, 1),
                                                    **{k: float(v) for k, v in self.metrics.items()}})
                        bar.update(self.step, sps, self.episodes.last_return, self.last_eval)
                    stop = (callback is not None and callback(self.step)) or flag.stop
                    if self.step // run.checkpoint_every > prev // run.checkpoint_every or stop:
                        if self.metrics:
                            self._check_finite(self.metrics)  # never checkpoint a diverged agent
                        self._checkpoint()
                    if stop:
                        print(f"stopped at step {self.step}; checkpoint saved. Continue with: keel train --resume {self.run_dir}")
                        return self.run_dir
                if self.last_eval_step != self.step:
                    self._evaluate(log)  # the final evaluation, at the end of the budget
                bar.update(self.step, (self.step - sps_step) / max(time.perf_counter() - sps_t, 1e-9),
                           self.episodes.last_return, self.last_eval)
                if self.last_checkpoint_step != self.step:
                    self._checkpoint()
        finally:
            bar.close()
            log.close()
            self.envs.close()
        self._finish()
        return self.run_dir

    def _random_actions(self, n: int) -> np.ndarray:
        space = self.envs.single_action_space
        if self.discrete:
            return self.np_rng.integers(0, space.n, size=n)
        return self.np_rng.uniform(space.low, space.high, size=(n, space.shape[0])).astype(np.float32)

    def _metric_names(self) -> list[str]:
        return list(getattr(self.agent, "metric_names", ()))

    def _check_finite(self, metrics: dict[str, torch.Tensor]) -> None:
        check_finite(metrics, self.step, self.agent.num_updates, self.run_dir, self.last_checkpoint_step)

    def _evaluate(self, log: RunLogger) -> None:
        if self.eval_env is not None:
            self.last_eval, self.last_eval_step = evaluate_and_log(self.agent, self.eval_env, self.run_cfg, self.step, log,
                                                                   self.wall_offset + time.perf_counter() - self.t0)

    def _finish(self) -> None:
        finish_run(self.run_dir, self.run_cfg, self.step, self.last_eval)
