"""The loop for offline agents: sample a batch of the dataset, update, evaluate in the dataset's
environment, checkpoint. One step is one gradient update.

A run folder holds what an online run's does (config.json, eval.csv with raw and normalized
returns, metrics.csv, tb/, checkpoint.pt, learning_curve.png). A checkpoint holds the agent and
its optimizers, the sampler's and every RNG's state and the loop counters (an evaluation is a pure
function of the policy and the seed, so the evaluation environment needs no state); not the dataset, which is re-read on resume and must be the same (size, episodes
and return sum are checked).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from keelrl import __version__
from keelrl.algos import build_agent, get_algo
from keelrl.data.offline import OfflineDataset, load_minari
from keelrl.errors import KeelError
from keelrl.train.checkpoint import CHECKPOINT_NAME, atomic_torch_save, atomic_write_text, rng_state, set_rng_state
from keelrl.train.config import OfflineRunConfig
from keelrl.train.logging import ProgressBar, RunLogger
from keelrl.train.session import (CONFIG_NAME, StopFlag, check_finite, evaluate_and_log, finish_run, learner_update,
                                  prepare_run_dir, resolve_device, setup_process)


def default_offline_run_dir(algo: str, run: OfflineRunConfig) -> Path:
    from datetime import datetime
    return Path("runs") / f"{algo}-{run.dataset.replace('/', '_')}-s{run.seed}-{datetime.now():%Y%m%d-%H%M%S}"


def prepare_dataset(data: OfflineDataset, cfg) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Apply the preprocessing the algorithm's Config asks for, in place; return the state
    normalization's (mean, std) if it normalizes states."""
    if getattr(cfg, "normalize_reward", False):
        data.scale_rewards(data.returns_range_scale(1000.0))
    if getattr(cfg, "reward_scale", 1.0) != 1.0 or getattr(cfg, "reward_bias", 0.0) != 0.0:
        data.scale_rewards(cfg.reward_scale, cfg.reward_bias)
    if getattr(cfg, "normalize_obs", False):
        mean, std = data.obs_moments(1e-3)
        data.normalize_obs(mean, std)
        return mean, std
    return None


def train(algo: str, run: OfflineRunConfig, cfg, callback: Callable[[int], bool] | None = None) -> Path:
    """Start a new offline run of `algo` on `run.dataset`; return the run folder."""
    spec = get_algo(algo)
    if spec.loop != "offline":
        raise KeelError(f"{algo} trains online: use keel train {algo} --env ENV_ID")
    if not isinstance(cfg, spec.config):
        raise KeelError(f"{algo} expects a {spec.config.__name__}, got {type(cfg).__name__}")
    device = resolve_device(run.device)
    if run.cuda_graphs:
        from keelrl.train.cuda_graph import check_cuda_graphs
        check_cuda_graphs(algo, spec.loop, cfg, device, run.compile)
    data = load_minari(run.dataset, "cpu", run.seed)  # missing, corrupt or unsuitable data fails before any folder is made
    build_agent(spec, cfg, data, "cpu")
    if run.eval_episodes > 0:
        data.make_eval_env().close()
    run_dir = Path(run.run_dir) if run.run_dir else default_offline_run_dir(algo, run)
    prepare_run_dir(run_dir, run.overwrite)
    run.run_dir = str(run_dir)
    meta = {"algo": algo, "keelrl_version": __version__, "torch_version": torch.__version__, "offline": True,
            "run": asdict(run), "algo_config": asdict(cfg), "dataset": data.fingerprint()}
    atomic_write_text(json.dumps(meta, indent=2), run_dir / CONFIG_NAME)
    return OfflineLoop(algo, run, cfg, run_dir, data=data).run(callback)


class OfflineLoop:
    def __init__(self, algo: str, run: OfflineRunConfig, cfg, run_dir: Path, ckpt: dict | None = None,
                 data: OfflineDataset | None = None) -> None:
        """`data`: the dataset already read (by `train`'s checks), else it is read here (on resume)."""
        self.algo, self.run_cfg, self.cfg, self.run_dir = algo, run, cfg, run_dir
        self.device, self.np_rng = setup_process(run)
        if data is None:
            data = load_minari(run.dataset, self.device, run.seed)
        self.data = data.to(self.device)
        self.data.seed(run.seed)
        self.agent = build_agent(get_algo(algo), cfg, self.data, self.device)
        stats = prepare_dataset(self.data, cfg)
        if stats is not None:
            self.agent.obs_norm.set(*stats)
        self.eval_env = self.data.make_eval_env() if run.eval_episodes > 0 else None
        self.step, self.wall_offset = 0, 0.0
        self.last_eval, self.last_eval_step = None, None
        self.metrics: dict[str, torch.Tensor] = {}
        if ckpt is not None:
            self._restore(ckpt)
        self.update = learner_update(self.agent, algo, cfg, self.device, run.compile, run.cuda_graphs)

    def _checkpoint(self) -> None:
        atomic_torch_save({
            "keelrl": "run", "algo": self.algo, "offline": True, "agent": self.agent.state_dict(),
            "sampler": self.data.generator.get_state(), "dataset": self.data.fingerprint(),
            "rng": rng_state(self.np_rng),
            "run_config": asdict(self.run_cfg), "algo_config": asdict(self.cfg),
            "loop": {"step": self.step, "last_eval": self.last_eval, "last_eval_step": self.last_eval_step,
                     "metrics": {k: v.detach().cpu() for k, v in self.metrics.items()},
                     "wall": self.wall_offset + time.perf_counter() - self.t0},
        }, self.run_dir / CHECKPOINT_NAME)
        self.last_checkpoint_step = self.step

    def _restore(self, ckpt: dict) -> None:
        if ckpt["dataset"] != self.data.fingerprint():
            raise KeelError(f"dataset {self.run_cfg.dataset} has changed since this run started "
                            f"(was {ckpt['dataset']}, now {self.data.fingerprint()}); resuming would mix two datasets")
        self.agent.load_state_dict(ckpt["agent"])
        self.data.generator.set_state(ckpt["sampler"])
        set_rng_state(ckpt["rng"], self.np_rng)
        loop = ckpt["loop"]
        self.step, self.last_eval, self.last_eval_step = loop["step"], loop["last_eval"], loop["last_eval_step"]
        self.wall_offset = loop["wall"]
        self.metrics = {k: v.to(self.device) for k, v in loop["metrics"].items()}

    def run(self, callback: Callable[[int], bool] | None) -> Path:
        run, cfg = self.run_cfg, self.cfg
        resumed_from = self.step if self.step > 0 else None
        self.t0 = time.perf_counter()
        self.last_checkpoint_step = resumed_from
        log = RunLogger(self.run_dir, list(self.agent.metric_names), resume_step=resumed_from, normalized_scores=True)
        bar = ProgressBar(run.total_steps, self.step, run.progress, f"{self.algo} {run.dataset}")
        ups_t, ups_step = time.perf_counter(), self.step
        check_each = self.device.type == "cpu"  # on CPU the check costs microseconds; on a GPU only when logging
        try:
            with StopFlag() as flag:
                while self.step < run.total_steps:
                    prev = self.step
                    self.metrics = self.update(self.data.sample(cfg.batch_size))
                    self.step += 1
                    if check_each:
                        self._check_finite()
                    if run.eval_every and self.step % run.eval_every == 0:
                        self._evaluate(log)
                    if self.step % run.log_every == 0:
                        if not check_each:
                            self._check_finite()
                        now = time.perf_counter()
                        ups = (self.step - ups_step) / max(now - ups_t, 1e-9)
                        ups_t, ups_step = now, self.step
                        log.log_metrics(self.step, {"updates": self.step, "sps": round(ups, 1),
                                                    **{k: float(v) for k, v in self.metrics.items()}})
                        bar.update(self.step, ups, None, self.last_eval)
                    stop = (callback is not None and callback(self.step)) or flag.stop
                    if self.step // run.checkpoint_every > prev // run.checkpoint_every or stop:
                        self._check_finite()
                        self._checkpoint()
                    if stop:
                        print(f"stopped at update {self.step}; checkpoint saved. Continue with: keel train --resume {self.run_dir}")
                        return self.run_dir
                if self.last_eval_step != self.step:
                    self._evaluate(log)
                if self.last_checkpoint_step != self.step:
                    self._checkpoint()
        finally:
            bar.close()
            log.close()
            if self.eval_env is not None:
                self.eval_env.close()
        finish_run(self.run_dir, run, self.step, self.last_eval)
        return self.run_dir

    def _check_finite(self) -> None:
        if self.metrics:
            check_finite(self.metrics, self.step, self.agent.num_updates, self.run_dir, self.last_checkpoint_step)

    def _evaluate(self, log: RunLogger) -> None:
        if self.eval_env is not None:
            self.last_eval, self.last_eval_step = evaluate_and_log(
                self.agent, self.eval_env, self.run_cfg, self.step, log,
                self.wall_offset + time.perf_counter() - self.t0, self.data.normalized_score)
