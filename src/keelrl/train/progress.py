"""What a run shows while it trains.

In a terminal, a live bar that redraws twice a second: steps (updates, offline) done of the budget,
the rate over the last half minute, elapsed time, time left, the last training-episode return and
the last evaluation (the normalized score, offline). When the output is not a terminal (nohup,
SLURM, a sweep's trial log), one plain line per logging interval instead, flushed at once, so a
batch job's log shows where it is. With progress off, nothing while it trains; the closing summary
is always printed.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from typing import TextIO

RATE_WINDOW_S = 30.0
"""The rate is measured over this many seconds of the most recent progress."""


def display_mode(progress: bool, stream: TextIO | None = None) -> str:
    """"bar" in a terminal, "lines" when the output goes to a file or pipe, "off" without progress."""
    if not progress:
        return "off"
    stream = sys.stdout if stream is None else stream
    return "bar" if getattr(stream, "isatty", lambda: False)() else "lines"


def clock(seconds: float | None) -> str:
    """m:ss under an hour, h:mm:ss beyond; - when unknown."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "-"
    seconds = int(seconds)   # whole seconds elapsed (or left), as a clock shows them
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def number(value: float | None) -> str:
    """One decimal below 100 in magnitude, none above (returns of -1785, scores of 45.3); - when unknown."""
    if value is None:
        return "-"
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


class RunProgress:
    """The display of one run (or one group of seeds). `unit` is "step" or "update"; `normalized`:
    evaluations are shown as normalized scores (offline runs with reference scores)."""

    def __init__(self, total: int, start: int, mode: str, description: str, unit: str = "step",
                 episodes: bool = True, normalized: bool = False, stream: TextIO | None = None) -> None:
        self.total, self.mode, self.description, self.unit = total, mode, description, unit
        self.episodes, self.normalized = episodes, normalized
        self.stream = sys.stdout if stream is None else stream
        self.t0 = time.monotonic()
        self.samples: deque[tuple[float, int]] = deque([(self.t0, start)])
        self.step, self.train, self.eval = start, None, None
        self.printed_step = start
        self._bar = None
        if mode == "bar":
            from rich.console import Console
            from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
            from rich.text import Text

            display = self

            class Numbers(ProgressColumn):
                """Rate, elapsed, ETA, train and eval, computed when drawn: they move between iterations too."""

                def render(self, task) -> Text:
                    return Text(display.text(with_description=False))

            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=8), Numbers(),
                                 console=Console(file=self.stream), refresh_per_second=2)
            self._task = self._bar.add_task(description, total=total, completed=start)
            self._bar.start()

    # ---- numbers
    def rate(self) -> float | None:
        """Steps (updates) per second over the last RATE_WINDOW_S seconds; None before any progress."""
        (t_old, s_old), (t_new, s_new) = self.samples[0], self.samples[-1]
        if s_new == s_old or t_new <= t_old:
            return None
        return (s_new - s_old) / (t_new - t_old)

    def eta(self) -> float | None:
        rate = self.rate()
        return None if rate is None else max(self.total - self.step, 0) / rate   # a last rollout may overshoot

    def _fields(self) -> dict:
        rate = self.rate()
        label = "score" if self.normalized else "eval"
        return {"rate": "-" if rate is None else f"{rate:,.0f}/s", "eta": clock(self.eta()),
                "elapsed": clock(time.monotonic() - self.t0),
                "train": number(self.train), "eval": f"{label} {number(self.eval)}"}

    # ---- updates from the run
    def update(self, step: int, train: float | None = None, eval_: float | None = None) -> None:
        """The run's state after an iteration (called often: cheap)."""
        now = time.monotonic()
        self.step, self.train, self.eval = step, train, eval_
        if now - self.samples[-1][0] >= 0.25 or step >= self.total:
            self.samples.append((now, step))
            while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW_S:
                self.samples.popleft()
            if self._bar is not None:
                self._bar.update(self._task, completed=step)

    def text(self, with_description: bool = True) -> str:
        """`sac Pendulum-v1  2000/10000 steps (20%)  251/s  elapsed 0:08  ETA 0:32  train -1785  eval -1682`."""
        f = self._fields()
        pct = 100.0 * self.step / max(self.total, 1)
        train = f"  train {f['train']}" if self.episodes else ""
        head = f"{self.description}  " if with_description else ""
        return (f"{head}{self.step}/{self.total} {self.unit}s ({pct:.0f}%)  {f['rate']}  elapsed {f['elapsed']}  "
                f"ETA {f['eta']}{train}  {f['eval']}")

    def log_line(self) -> None:
        """At a logging interval: in "lines" mode, one plain line with the state of the run."""
        if self.mode == "lines":
            print(self.text(), file=self.stream, flush=True)
            self.printed_step = self.step

    def close(self) -> None:
        """The last frame (in "lines" mode, a last line unless the last interval printed it)."""
        if self.mode == "lines" and self.printed_step != self.step:
            self.log_line()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.step)
            self._bar.stop()
            self._bar = None
