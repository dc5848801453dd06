"""Run-folder logging: CSV files (the source of truth for plots), TensorBoard events, training episodes."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from keelrl.train.checkpoint import atomic_write_text

EVAL_CSV, TRAIN_CSV, METRICS_CSV = "eval.csv", "train.csv", "metrics.csv"


class CsvLog:
    """Append-only CSV with a fixed header; rows are flushed as they are written."""

    def __init__(self, path: Path, fields: list[str]) -> None:
        self.path, self.fields = path, fields
        new = not path.exists() or path.stat().st_size == 0
        self._f = open(path, "a", newline="")
        self._w = csv.DictWriter(self._f, fieldnames=fields, extrasaction="ignore")
        if new:
            self._w.writeheader()
            self._f.flush()

    def write(self, row: dict) -> None:
        self._w.writerow(row)
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def truncate_csv(path: Path, max_step: int) -> None:
    """Drop rows logged after `max_step` (written after the checkpoint a run resumes from)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    i = header.index("step")
    kept = [r for r in body if r and int(float(r[i])) <= max_step]
    out = io.StringIO()
    csv.writer(out).writerows([header, *kept])
    atomic_write_text(out.getvalue(), path)


class RunLogger:
    """Writes eval.csv, train.csv, metrics.csv and TensorBoard events in a run folder."""

    def __init__(self, run_dir: Path, metric_names: list[str], resume_step: int | None = None,
                 normalized_scores: bool = False, hparams: dict | None = None, trackers: list | None = None,
                 success: bool = False) -> None:
        """`success`: eval.csv gets the success rate of each evaluation (environments that report success);
        `hparams`: the run's settings for TensorBoard's HParams tab (a new run); `trackers`: experiment
        trackers (train/tracking.py) that receive what the CSVs do."""
        self.run_dir = run_dir
        self.trackers = list(trackers or [])
        if resume_step is not None:
            for name in (EVAL_CSV, TRAIN_CSV, METRICS_CSV):
                truncate_csv(run_dir / name, resume_step)
        self.eval = CsvLog(run_dir / EVAL_CSV, ["step", "eval_return_mean", "eval_return_std", "wall_s"]
                           + (["eval_normalized_mean", "eval_normalized_std"] if normalized_scores else [])
                           + (["eval_success_rate"] if success else []))
        self.train = CsvLog(run_dir / TRAIN_CSV, ["step", "episode_return", "episode_length"])
        self.metrics = CsvLog(run_dir / METRICS_CSV, ["step", "updates", "sps", *metric_names])
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from torch.utils.tensorboard import SummaryWriter
        self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=resume_step)
        if hparams:
            self._write_hparams(hparams)

    def _write_hparams(self, hparams: dict) -> None:
        """The run's settings in TensorBoard's HParams tab, in the run's own event file."""
        from torch.utils.tensorboard.summary import hparams as hparams_summary
        values = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in hparams.items() if v is not None}
        for summary in hparams_summary(values, {"eval/return": 0.0}):
            self.tb.file_writer.add_summary(summary)

    def _track(self, step: int, values: dict) -> None:
        for tracker in self.trackers:
            tracker.log(step, values)

    def log_eval(self, step: int, mean: float, std: float, wall_s: float,
                 normalized: tuple[float, float] | None = None, success_rate: float | None = None) -> None:
        """`normalized`: (mean, std) of the normalized scores 100 · (R - R_min) / (R_max - R_min), offline runs;
        `success_rate`: the fraction of episodes that succeeded, for environments that report success."""
        row = {"step": step, "eval_return_mean": mean, "eval_return_std": std, "wall_s": round(wall_s, 2)}
        tracked = {"eval/return": mean, "eval/return_std": std}
        if normalized is not None:
            row.update(eval_normalized_mean=normalized[0], eval_normalized_std=normalized[1])
            self.tb.add_scalar("eval/normalized_score", normalized[0], step)
            tracked["eval/normalized_score"] = normalized[0]
        if success_rate is not None:
            row["eval_success_rate"] = success_rate
            self.tb.add_scalar("eval/success_rate", success_rate, step)
            tracked["eval/success_rate"] = success_rate
        self.eval.write(row)
        self.tb.add_scalar("eval/return", mean, step)
        self._track(step, tracked)

    def log_episode(self, step: int, ret: float, length: int) -> None:
        self.train.write({"step": step, "episode_return": ret, "episode_length": length})
        self.tb.add_scalar("train/episode_return", ret, step)
        self._track(step, {"train/episode_return": ret, "train/episode_length": length})

    def log_metrics(self, step: int, row: dict) -> None:
        self.metrics.write({"step": step, **row})
        for k, v in row.items():
            self.tb.add_scalar(f"train/{k}", v, step)
        self._track(step, {f"train/{k}": v for k, v in row.items()})

    def close(self) -> None:
        for log in (self.eval, self.train, self.metrics):
            log.close()
        self.tb.close()


class EpisodeTracker:
    """Running return and length of each vector-env copy's current episode; logs finished ones."""

    def __init__(self, num_envs: int) -> None:
        self.ep_return = np.zeros(num_envs)
        self.ep_length = np.zeros(num_envs, dtype=np.int64)
        self.last_return: float | None = None

    def step(self, reward: np.ndarray, done: np.ndarray, step: int, log: "RunLogger") -> None:
        self.ep_return += reward
        self.ep_length += 1
        for i in np.flatnonzero(done):
            self.last_return = float(self.ep_return[i])
            log.log_episode(step, self.last_return, int(self.ep_length[i]))
            self.ep_return[i], self.ep_length[i] = 0.0, 0

    def restart(self, i: int) -> None:
        """Copy i starts a new episode without finishing its current one (nothing is logged)."""
        self.ep_return[i], self.ep_length[i] = 0.0, 0

    def state_dict(self) -> dict:
        return {"ep_return": self.ep_return.copy(), "ep_length": self.ep_length.copy(), "last_train": self.last_return}

    def load_state_dict(self, state: dict) -> None:
        self.ep_return, self.ep_length = state["ep_return"].copy(), state["ep_length"].copy()
        self.last_return = state["last_train"]
