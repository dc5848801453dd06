"""The run skeleton every loop shares (off-policy, on-policy, offline, multi-seed), written once:
Ctrl-C, the run folder's logs, the progress bar, when to evaluate, log and checkpoint, the
finite-loss check, the final evaluation and checkpoint, callbacks and the closing summary.

A loop hands the skeleton itself and its "members" (the run folders it writes: one, or one per
seed of a stack). The loop owns its step counter and what one iteration does; the skeleton asks it:

    loop.step            progress so far, in the loop's unit (environment steps, or updates offline)
    loop.agent           the agent (its num_updates is logged; callbacks see it)
    loop.iterate()       one iteration (act/step/store/update, a rollout and its update, one update);
                         it calls skeleton.evaluate_if_due(prev) where an evaluation belongs, and
                         skeleton.check_update(metrics) after each update
    loop.metrics         the latest update's metrics (tensors; [S] for S stacked seeds)
    loop.num_updates     gradient updates so far
    loop.agent           what callbacks see
    loop.last_train_returns()   each member's last training-episode return (or None), for the bar
    loop.checkpoint()    write every member's checkpoint (with skeleton.state_dict(i) in it)
    loop.close()         release environments
"""
from __future__ import annotations

import json
import signal
import sys
import threading
from contextlib import contextmanager
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from keelrl.device import choose_threads, resolve_device  # noqa: F401  (resolve_device: re-exported for the loops)
from keelrl.errors import KeelError
from keelrl.train.callbacks import Callbacks, RunView
from keelrl.train.checkpoint import CHECKPOINT_NAME, PENDING_NAME, commit_group, identity, keep_copy, write_checkpoint
from keelrl.train.evaluation import EVAL_SEED_OFFSET, episode_starter, evaluate, reports_success
from keelrl.train.logging import EpisodeTracker, RunLogger
from keelrl.train.progress import RunProgress, display_mode
from keelrl.train.run_folder import CONFIG_NAME, mark_finished, read_marker
from keelrl.train.tracking import flat_config, open_trackers



class TrainingDiverged(KeelError):
    """A loss became NaN or infinite."""


@contextmanager
def allocating(what: str):
    """Building a run's environments, networks and buffers: running out of memory is one line."""
    try:
        yield
    except MemoryError:
        raise KeelError(f"out of memory while setting up {what}; lower --buffer-size or --num-envs") from None
    except RuntimeError as e:
        if "alloc" not in str(e) and "out of memory" not in str(e):
            raise
        raise KeelError(f"out of memory while setting up {what} ({str(e).splitlines()[0][:120]}); "
                        f"lower --buffer-size or --num-envs") from None


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped a run after it wrote its checkpoint. A KeyboardInterrupt, so
    that a script stops as it would on Ctrl-C; `keel` exits 128 + the signal's number (130, 143)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.message, self.signum = message, signum


class StopFlag:
    """Ctrl-C or SIGTERM (what schedulers send) sets a flag that the loop reads at the end of an
    iteration, so the checkpoint it then writes is consistent; a second one interrupts at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.stop = False
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handler) for s in self.SIGNALS}
        return self

    def _handler(self, signum, frame) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop, self.signum = True, signum

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)


def setup_threads(run, ckpt: dict | None = None) -> None:
    """torch's CPU threads for the run (device.choose_threads): --threads, else the count the resumed
    run used, else what the machine's load leaves; a note on stderr when it is fewer than torch's default."""
    recorded = ckpt["loop"].get("threads") if ckpt is not None else None
    threads, note = choose_threads(run.threads, recorded)
    if note is not None and run.progress:
        print(f"keel: note: {note}", file=sys.stderr, flush=True)
    torch.set_num_threads(threads)


def setup_process(run, ckpt: dict | None = None) -> tuple[torch.device, np.random.Generator]:
    """Device, torch threads and every seed of a run; returns (device, the loop's numpy Generator)."""
    device = resolve_device(run.device)
    setup_threads(run, ckpt)
    torch.manual_seed(run.seed)
    np.random.seed(run.seed)
    return device, np.random.default_rng(run.seed)


def evaluate_and_log(policy, eval_env, run, step: int, log: RunLogger, wall: float,
                     normalize: Callable[[float], float | None] | None = None) -> tuple[float, float | None]:
    """Deterministic evaluation of `policy` (anything with `act(obs, deterministic)`); logs it, with
    normalized scores when `normalize(R)` gives them. Returns the mean return and the mean
    normalized score (None without reference scores)."""
    successes: list | None = [] if reports_success(eval_env) else None
    saved = policy.memory() if hasattr(policy, "memory") else None   # the training copies' memory of their episodes
    returns = evaluate(lambda o: policy.act(o, deterministic=True), eval_env, run.eval_episodes,
                       run.seed + EVAL_SEED_OFFSET, successes=successes, start_episode=episode_starter(policy))
    if saved is not None:
        policy.set_memory(saved)   # evaluation acted with its own
    mean = float(returns.mean())
    normalized = None
    if normalize is not None and normalize(mean) is not None:
        scores = np.array([normalize(float(r)) for r in returns])
        normalized = (float(scores.mean()), float(scores.std()))
    log.log_eval(step, mean, float(returns.std()), wall, normalized,
                 None if successes is None else float(np.mean(successes)))
    return mean, None if normalized is None else normalized[0]


RUN_FOLDER_FILES = ("config.json", "eval.csv", "train.csv", "metrics.csv", "tb", CHECKPOINT_NAME, "learning_curve.png")


def finish_run(run_dir: Path, summary: bool, step: int, last_eval: float | None, unit: str = "step",
               score: float | None = None) -> None:
    """Draw the run's learning curve and, when `summary`, print the closing summary (`score`: the
    final normalized score, offline)."""
    from keelrl.analysis.plots import plot_runs
    try:
        plot_runs([run_dir], run_dir / "learning_curve.png")
    except KeelError:
        pass
    if summary:
        ev = "-" if last_eval is None else f"{last_eval:.1f}"
        normalized = "" if score is None else f" (normalized score {score:.1f})"
        files = ", ".join(n + ("/" if (run_dir / n).is_dir() else "") for n in RUN_FOLDER_FILES if (run_dir / n).exists())
        print(f"done: {step} {unit}s, final evaluation return {ev}{normalized}\n"
              f"run folder: {run_dir}  ({files})", flush=True)


@dataclass
class Member:
    """One run folder a loop writes: its run settings, folder, the policy evaluated for it, the
    environment it is evaluated in (None when the run does not evaluate) and its training episodes."""

    run: Any
    run_dir: Path
    policy: Any
    eval_env: Any = None
    episodes: EpisodeTracker | None = None


class RunSkeleton:
    """Drives a loop (see the module docstring) from its current step to `total_steps`."""

    def __init__(self, loop, algo: str, cfg, members: list[Member], description: str, metric_names: list[str],
                 device: torch.device, unit: str = "step", normalize: Callable[[float], float | None] | None = None,
                 resume_target: Path | None = None, stacked: bool = False) -> None:
        """`stacked`: the loop's metrics are [S], one value per member (stacked seeds)."""
        self.loop, self.algo, self.cfg, self.members, self.stacked = loop, algo, cfg, members, stacked
        self.settings = members[0].run
        self.description, self.metric_names, self.unit = description, metric_names, unit
        self.normalize = normalize
        self.resume_target = resume_target or members[0].run_dir
        self.check_each_update = device.type == "cpu"   # on CPU a check costs microseconds; on a GPU, at logging
        self.last_eval: list[float | None] = [None] * len(members)
        self.last_score: list[float | None] = [None] * len(members)   # normalized scores, offline
        self.last_eval_step: int | None = None
        self.wall_offset, self.t0 = 0.0, None
        self.last_checkpoint_step: int | None = None
        self.logs: list[RunLogger] = []
        self.metric_values: dict[str, float] = {}
        self.callbacks = Callbacks(None)

    # ---- what each member's checkpoint holds of the skeleton
    def state_dict(self, i: int = 0) -> dict:
        return {"last_eval": self.last_eval[i], "last_score": self.last_score[i], "last_eval_step": self.last_eval_step,
                "wall": self.wall(), "threads": torch.get_num_threads()}

    def load_state_dict(self, states: list[dict]) -> None:
        self.last_eval = [s["last_eval"] for s in states]
        self.last_score = [s.get("last_score") for s in states]
        self.last_eval_step, self.wall_offset = states[0]["last_eval_step"], states[0]["wall"]

    def wall(self) -> float:
        return self.wall_offset + (time.perf_counter() - self.t0 if self.t0 is not None else 0.0)

    # ---- called by the loop inside an iteration
    def evaluate_if_due(self, prev: int) -> None:
        """Evaluate when the step just taken crossed a multiple of eval_every."""
        every = self.settings.eval_every
        if every and self.loop.step // every > prev // every:
            self.evaluate()

    def check_update(self, metrics: dict[str, torch.Tensor]) -> None:
        """After each update on a CPU: stop at the first non-finite loss (on a GPU: when logging)."""
        if self.check_each_update:
            self.check_finite(metrics)

    def evaluate(self) -> None:
        step, wall = self.loop.step, self.wall()
        for i, m in enumerate(self.members):
            if m.eval_env is not None:
                self.last_eval[i], self.last_score[i] = evaluate_and_log(m.policy, m.eval_env, m.run, step, self.logs[i],
                                                                         wall, self.normalize)
                self.last_eval_step = step
        if self.last_eval_step == step and self.callbacks:
            self.callbacks.on_eval(self._view())

    def check_finite(self, metrics: dict[str, torch.Tensor]) -> None:
        """Raise TrainingDiverged naming the non-finite metrics, the first member they belong to
        (stacked seeds' metrics are [S]) and its last good checkpoint."""
        if not metrics:
            return
        if bool(torch.isfinite(torch.stack([v.float() for v in metrics.values()])).all()):
            return
        stacked = self.stacked
        for i, m in enumerate(self.members):
            bad = [k for k, v in metrics.items() if not bool(torch.isfinite(v[i] if stacked else v).all())]
            if not bad:
                continue
            raise TrainingDiverged(f"{', '.join(bad)} became non-finite at {self.unit} {self.loop.step} "
                                   f"(update {self.loop.agent.num_updates}); training stopped and {self._kept(m)}. "
                                   f"Try a lower learning rate.")

    def _kept(self, m: Member) -> str:
        """Where the run can be taken up again: every checkpoint written was checked finite."""
        if self.last_checkpoint_step is None:
            return "no checkpoint had been written yet (start again with --overwrite)"
        return (f"the last good checkpoint, at {self.unit} {self.last_checkpoint_step}, is {m.run_dir / CHECKPOINT_NAME} "
                f"(its networks were checked finite when it was written)")

    # ---- the run
    def checkpoint(self) -> None:
        """Write every member's checkpoint: the loop's part, its counters and the skeleton's, the run's settings."""
        self.check_finite(self.loop.metrics)   # never checkpoint a diverged agent
        for i, m in enumerate(self.members):
            state = self.loop.checkpoint_state(i)
            self._check_finite_agent(state["agent"], m)
            run_config, algo_config = asdict(m.run), asdict(self.cfg)
            # seeds trained together are committed as one (a kill never leaves them at different steps)
            write_checkpoint({"keelrl": "run", "algo": self.algo, **state, "loop": {**state["loop"], **self.state_dict(i)},
                              "identity": identity(self.algo, run_config, algo_config),
                              "run_config": run_config, "algo_config": algo_config},
                             m.run_dir / (PENDING_NAME if self.stacked else CHECKPOINT_NAME))
        if self.stacked:
            commit_group([m.run_dir for m in self.members], self.resume_target, self.loop.step)
        for m in self.members:
            if getattr(m.run, "keep_checkpoints", False):
                keep_copy(m.run_dir / CHECKPOINT_NAME, self.loop.step)
        self.last_checkpoint_step = self.loop.step
        if self.callbacks:
            self.callbacks.on_checkpoint(self._view())

    def _check_finite_agent(self, agent_state: dict, member: Member) -> None:
        """Raise TrainingDiverged rather than write a checkpoint whose networks hold NaN or inf (the
        losses can still be finite on the update that broke the weights)."""
        def bad(v: Any, path: str) -> str | None:
            if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all()):
                return path
            if isinstance(v, dict):
                return next((b for k, x in v.items() if (b := bad(x, f"{path}.{k}"))), None)
            return None
        where = bad(agent_state, "agent")
        if where is not None:
            raise TrainingDiverged(f"{where} holds NaN or inf at {self.unit} {self.loop.step}; training stopped without "
                                   f"writing a checkpoint, and {self._kept(member)}. Try a lower learning rate.")

    def _view(self) -> RunView:
        evals = [e for e in self.last_eval if e is not None]
        return RunView(self.loop.agent, self.loop.step, self.loop.agent.num_updates, dict(self.metric_values),
                       float(np.mean(evals)) if evals else None, self.last_eval_step,
                       [m.run_dir for m in self.members])

    def _logger(self, m: Member, resumed_from: int | None) -> RunLogger:
        """A member's logs: CSVs, TensorBoard (its settings as hyperparameters, for a new run) and the
        experiment trackers its run asked for."""
        meta = json.loads((m.run_dir / CONFIG_NAME).read_text())
        track = tuple(getattr(m.run, "track", ()))
        trackers = open_trackers(track, m.run_dir, meta, m.run.track_project, m.run.track_uri) if track else []
        return RunLogger(m.run_dir, self.metric_names, resume_step=resumed_from, normalized_scores=self.normalize is not None,
                         success=reports_success(m.eval_env), hparams=None if resumed_from is not None else flat_config(meta), trackers=trackers)

    def _show(self, progress: RunProgress) -> None:
        """The display's numbers: mean over members of the last training return and evaluation
        (the normalized score where there is one)."""
        score = self._mean(self.last_score)
        progress.normalized = score is not None
        progress.update(self.loop.step, self._mean_train_return(), score if score is not None else self._mean(self.last_eval))

    def _log(self, rate: float) -> None:
        values = {k: v.tolist() for k, v in self.loop.metrics.items()}   # one transfer per metric, all seeds
        stacked = self.stacked
        for i, log in enumerate(self.logs):
            row = {k: v[i] if stacked else v for k, v in values.items()}
            log.log_metrics(self.loop.step, {"updates": self.loop.agent.num_updates, "sps": round(rate, 1), **row})
        self.metric_values = {k: float(np.mean(v)) for k, v in values.items()}
        if self.callbacks:
            self.callbacks.on_log(self._view())

    def run(self, callback=None) -> list[Path]:
        """Train to `total_steps`; return the members' run folders."""
        loop, run = self.loop, self.settings
        resumed_from = loop.step if loop.step > 0 else None
        self.t0 = time.perf_counter()
        self.last_checkpoint_step = resumed_from
        self.callbacks = Callbacks(callback)
        self.logs = [self._logger(m, resumed_from) for m in self.members]
        progress = RunProgress(run.total_steps, loop.step, display_mode(run.progress), self.description, self.unit,
                               episodes=any(m.episodes is not None for m in self.members))
        rate_t, rate_step = time.perf_counter(), loop.step
        dirs = [m.run_dir for m in self.members]
        ended = False
        for d in dirs:   # going on: a finished run given more steps is unfinished until it ends again
            if (read_marker(d) or {}).get("finished"):
                mark_finished(d, False)
        try:
            with StopFlag() as flag:
                if self.callbacks:
                    self.callbacks.on_start(self._view())
                while loop.step < run.total_steps:
                    prev = loop.step
                    loop.iterate()
                    now = time.perf_counter()
                    self._show(progress)
                    if loop.step // run.log_every > prev // run.log_every:
                        self.check_finite(loop.metrics)
                        rate = (loop.step - rate_step) / max(now - rate_t, 1e-9)
                        rate_t, rate_step = now, loop.step
                        self._log(rate)
                        progress.log_line()
                    stop = (bool(self.callbacks) and self.callbacks.on_step(self._view())) or flag.stop
                    if loop.step // run.checkpoint_every > prev // run.checkpoint_every or stop:
                        self.checkpoint()
                    if stop:
                        plural = "s" if self.stacked else ""
                        message = (f"stopped at {self.unit} {loop.step}; checkpoint{plural} saved. "
                                   f"Continue with: keel train --resume {self.resume_target}")
                        if flag.signum is not None:   # Ctrl-C or SIGTERM: the caller must see it was interrupted
                            raise RunInterrupted(message, flag.signum)
                        print(message)
                        return dirs
                if self.last_eval_step != loop.step:
                    self.evaluate()   # the final evaluation, at the end of the budget
                self._show(progress)
                if self.last_checkpoint_step != loop.step:
                    self.checkpoint()
            ended = True
        finally:
            progress.close()
            for log in self.logs:
                log.close()
                if not ended:   # stopped, interrupted or failed: the tracked runs end here, to be resumed
                    for tracker in log.trackers:
                        tracker.close()
            loop.close()
        self._finish()
        if self.callbacks:
            self.callbacks.on_end(self._view())
        return dirs

    def _finish(self) -> None:
        single = not self.stacked
        for m, ev, score, log in zip(self.members, self.last_eval, self.last_score, self.logs):
            finish_run(m.run_dir, single, self.loop.step, ev, self.unit, score)
            for tracker in log.trackers:
                tracker.finish(m.run_dir / "learning_curve.png")
            mark_finished(m.run_dir)
        if not single:
            from keelrl.analysis.plots import plot_runs
            try:   # the group's combined curve: the seeds' mean and band (or each seed, below 3)
                plot_runs([m.run_dir for m in self.members], self.resume_target / "learning_curve.png")
            except KeelError:
                pass
            evals = ", ".join("-" if e is None else f"{e:.1f}" for e in self.last_eval)
            seeds = ",".join(str(m.run.seed) for m in self.members)
            print(f"done: {self.loop.step} steps × {len(self.members)} seeds, final evaluation returns {evals}\n"
                  f"run folders: {self.resume_target}/s{{{seeds}}}, the group's curve in "
                  f"{self.resume_target / 'learning_curve.png'}", flush=True)

    def _mean_train_return(self) -> float | None:
        return self._mean([m.episodes.last_return if m.episodes is not None else None for m in self.members])

    @staticmethod
    def _mean(values: list[float | None]) -> float | None:
        have = [v for v in values if v is not None]
        return float(np.mean(have)) if have else None

