"""What both training loops (online.py's off-policy loop, on_policy.py's rollout loop) share: the
run folder, the process's device and seeds, Ctrl-C handling, the divergence check, evaluation and
the closing plot."""
from __future__ import annotations

import shutil
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from keelrl.errors import KeelError
from keelrl.train.checkpoint import CHECKPOINT_NAME
from keelrl.train.config import RunConfig
from keelrl.train.evaluation import EVAL_SEED_OFFSET, evaluate
from keelrl.train.logging import RunLogger

CONFIG_NAME = "config.json"


class TrainingDiverged(KeelError):
    """A loss became NaN or infinite."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise KeelError(f"device {name!r} asked for, but this torch build sees no CUDA device; use --device cpu")
    return dev


def default_run_dir(algo: str, run: RunConfig) -> Path:
    return Path("runs") / f"{algo}-{run.env}-s{run.seed}-{datetime.now():%Y%m%d-%H%M%S}"


def prepare_run_dir(path: Path, overwrite: bool) -> None:
    """Create the run folder; refuse to reuse a non-empty one unless overwrite is set, and never
    delete a folder that is not a keelrl run."""
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise KeelError(f"run folder {path} already exists; pass --overwrite to replace it, "
                            f"--resume {path} to continue it, or choose another --run-dir")
        if not (path / CONFIG_NAME).exists():
            raise KeelError(f"refusing to overwrite {path}: it is not a keelrl run folder (no {CONFIG_NAME})")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)


class StopFlag:
    """Ctrl-C sets a flag that the loop reads at the end of an iteration, so the checkpoint it
    then writes is consistent; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.stop = False
        self._old = None

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def setup_process(run: RunConfig) -> tuple[torch.device, np.random.Generator]:
    """Device, torch threads and every seed of a run; returns (device, the loop's numpy Generator)."""
    device = resolve_device(run.device)
    if run.threads > 0:
        torch.set_num_threads(run.threads)
    torch.manual_seed(run.seed)
    np.random.seed(run.seed)
    return device, np.random.default_rng(run.seed)


def learner_update(agent, algo: str, cfg, device: torch.device, compile: bool = False, cuda_graphs: bool = False,
                   update: Callable | None = None) -> Callable:
    """What a loop calls for one learner update: `update` (default `agent.update`), after compiling
    the agent's networks (--compile, train/compiled.py), or replayed from CUDA graphs (--cuda-graphs,
    train/cuda_graph.py). Call it after any checkpoint is loaded into the agent."""
    from keelrl.algos import get_algo
    update = update or agent.update
    if cuda_graphs:
        from keelrl.train.cuda_graph import GraphedUpdate, check_cuda_graphs
        check_cuda_graphs(algo, get_algo(algo).loop, cfg, device, compile)
        return GraphedUpdate(agent, update)
    from keelrl.train.cuda_graph import set_capturable
    set_capturable(agent, False)  # a checkpoint of a CUDA-graph run resumed without graphs: plain optimizers
    if compile:
        from keelrl.train.compiled import compile_networks
        compile_networks(agent)
    return update


def check_finite(metrics: dict[str, torch.Tensor], step: int, num_updates: int, run_dir: Path,
                 last_checkpoint_step: int | None) -> None:
    """Raise TrainingDiverged naming the non-finite metrics and the last good checkpoint."""
    values = torch.stack([v.float() for v in metrics.values()])
    if bool(torch.isfinite(values).all()):
        return
    bad = [k for k, v in metrics.items() if not bool(torch.isfinite(v))]
    where = (f"the last good checkpoint is {run_dir / CHECKPOINT_NAME} (step {last_checkpoint_step})"
             if last_checkpoint_step is not None else "no checkpoint had been written yet")
    raise TrainingDiverged(f"{', '.join(bad)} became non-finite at step {step} "
                           f"(update {num_updates}); training stopped and {where}. "
                           f"Try a lower learning rate.")


def evaluate_and_log(agent, eval_env, run: RunConfig, step: int, log: RunLogger, wall: float,
                     normalize=None) -> tuple[float, int]:
    """Deterministic evaluation of `agent`; logs it (with normalized scores when `normalize(R)` is
    given) and returns (mean return, step)."""
    returns = evaluate(lambda o: agent.act(o, deterministic=True), eval_env, run.eval_episodes,
                       run.seed + EVAL_SEED_OFFSET)
    mean = float(returns.mean())
    normalized = None
    if normalize is not None and normalize(mean) is not None:
        scores = np.array([normalize(float(r)) for r in returns])
        normalized = (float(scores.mean()), float(scores.std()))
    log.log_eval(step, mean, float(returns.std()), wall, normalized)
    return mean, step


def finish_run(run_dir: Path, run: RunConfig, step: int, last_eval: float | None) -> None:
    from keelrl.analysis.plots import plot_runs
    png = run_dir / "learning_curve.png"
    try:
        plot_runs([run_dir], png)
    except KeelError:
        png = None
    if run.progress:
        ev = "-" if last_eval is None else f"{last_eval:.1f}"
        print(f"done: {step} steps, final evaluation return {ev}\n"
              f"run folder: {run_dir}  (config.json, eval.csv, train.csv, metrics.csv, tb/, {CHECKPOINT_NAME}"
              f"{', learning_curve.png' if png else ''})")
