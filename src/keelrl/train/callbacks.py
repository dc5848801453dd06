"""Callbacks: code of yours that a run calls as it goes, with what it has (what Stable-Baselines3
users get from EvalCallback / CheckpointCallback).

A callback is an object with any of these methods (each optional), or a plain function
`callback(step) -> bool` (called as on_step with the step):

    on_start(view)        before the first iteration (also of a resumed run)
    on_step(view)         after every iteration; returning True stops the run as Ctrl-C does
                          (checkpoint, then return)
    on_log(view)          after a row of metrics is written (view.metrics holds it)
    on_eval(view)         after an evaluation (view.last_eval holds its mean return)
    on_checkpoint(view)   after a checkpoint is written
    on_end(view)          after the run reached its budget

`train(..., callback=[a, b])` takes several; a run stops when any on_step says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOOKS = ("on_start", "on_step", "on_log", "on_eval", "on_checkpoint", "on_end")


@dataclass(frozen=True)
class RunView:
    """What a callback sees: the live agent and the run's counters and latest numbers."""

    agent: Any
    """The agent being trained (for stacked seeds, the stack)."""
    step: int
    """Environment steps so far (offline: updates)."""
    num_updates: int
    """Gradient updates so far."""
    metrics: dict[str, float]
    """The metrics of the last logged row (losses, α, ...; the mean over seeds for a stack)."""
    last_eval: float | None
    """The mean return of the latest evaluation (the mean over seeds for a stack), or None."""
    last_eval_step: int | None
    """The step of that evaluation."""
    run_dirs: list[Path]
    """The run folder(s) being written."""

    @property
    def run_dir(self) -> Path:
        return self.run_dirs[0]


class _StepFunction:
    """A plain `callback(step) -> bool`, as an on_step hook."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def on_step(self, view: RunView) -> bool:
        return bool(self.fn(view.step))


class Callbacks:
    """Calls each hook of every callback given (a callback, a list of them, or None)."""

    def __init__(self, callback) -> None:
        given = [] if callback is None else list(callback) if isinstance(callback, (list, tuple)) else [callback]
        self.items = [c if any(hasattr(c, h) for h in HOOKS) else _StepFunction(c) for c in given]

    def __bool__(self) -> bool:
        return bool(self.items)

    def _call(self, hook: str, view: RunView) -> bool:
        stop = False
        for c in self.items:
            fn = getattr(c, hook, None)
            if fn is not None:
                stop = bool(fn(view)) or stop
        return stop

    def on_start(self, view: RunView) -> None:
        self._call("on_start", view)

    def on_step(self, view: RunView) -> bool:
        return self._call("on_step", view)

    def on_log(self, view: RunView) -> None:
        self._call("on_log", view)

    def on_eval(self, view: RunView) -> None:
        self._call("on_eval", view)

    def on_checkpoint(self, view: RunView) -> None:
        self._call("on_checkpoint", view)

    def on_end(self, view: RunView) -> None:
        self._call("on_end", view)


class StopOnReturn:
    """Stop once an evaluation's mean return reaches `threshold` (SB3's StopTrainingOnRewardThreshold)."""

    def __init__(self, threshold: float) -> None:
        self.threshold, self.reached = threshold, False

    def on_eval(self, view: RunView) -> None:
        self.reached = self.reached or (view.last_eval is not None and view.last_eval >= self.threshold)

    def on_step(self, view: RunView) -> bool:
        return self.reached


class SaveBestAgent:
    """Save the agent (keelrl.save_agent) whenever an evaluation beats the best so far (SB3's
    EvalCallback with best_model_save_path). Default path: RUN_DIR/best_agent.pt."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path, self.best = path, None

    def on_eval(self, view: RunView) -> None:
        if view.last_eval is not None and (self.best is None or view.last_eval > self.best):
            from keelrl.train.checkpoint import save_agent
            self.best = view.last_eval
            save_agent(view.agent, self.path or view.run_dir / "best_agent.pt")
