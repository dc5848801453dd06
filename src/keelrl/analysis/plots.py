"""Learning curves: mean over seeds with a shaded 95% confidence band, grouped by (env or dataset,
algorithm). Offline runs plot the normalized score when their dataset has reference scores."""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from keelrl.errors import KeelError


def mean_confidence_band(curves: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """curves [S, T] (S seeds) -> (mean, low, high) [T], Student-t interval of the mean over seeds.

    With one seed the band collapses onto the mean.
    """
    from scipy import stats
    s = curves.shape[0]
    mean = curves.mean(0)
    if s < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + level / 2, df=s - 1) * curves.std(0, ddof=1) / np.sqrt(s)
    return mean, mean - half, mean + half


def load_eval_curve(run_dir: Path) -> tuple[dict, np.ndarray, np.ndarray]:
    """A run folder's config.json and eval.csv (written by keelrl.train) -> (meta, steps, returns).

    For an offline run whose eval.csv has normalized scores, `returns` are those scores."""
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise KeelError(f"{run_dir} is not a keelrl run folder (no config.json)")
    meta = json.loads(cfg_path.read_text())
    eval_csv = run_dir / "eval.csv"
    rows: list[dict] = []
    if eval_csv.exists():
        with open(eval_csv, newline="") as f:
            rows = list(csv.DictReader(f))
    steps = np.array([int(r["step"]) for r in rows])
    key = "eval_normalized_mean" if rows and rows[0].get("eval_normalized_mean") else "eval_return_mean"
    returns = np.array([float(r[key]) for r in rows])
    return meta, steps, returns


def _panel(meta: dict) -> tuple[str, bool]:
    """(panel title, offline?) of a run: its environment, or its dataset."""
    run = meta["run"]
    return (f"dataset {run['dataset']}", True) if "dataset" in run else (run["env"], False)


def _has_normalized(run_dir: Path) -> bool:
    with open(run_dir / "eval.csv", newline="") as f:
        first = next(csv.DictReader(f), {})
    return bool(first.get("eval_normalized_mean"))


def plot_runs(run_dirs: list[Path], out: Path, title: str | None = None) -> Path:
    """One panel per environment, one line per algorithm: mean evaluation return over the runs
    (seeds) with a 95% band, on the steps all of them reached."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]] = defaultdict(lambda: defaultdict(list))
    offline: dict[str, bool] = {}
    normalized: dict[str, bool] = {}
    for d in map(Path, run_dirs):
        meta, steps, returns = load_eval_curve(d)
        if len(steps):
            panel, offline[panel] = _panel(meta)
            normalized[panel] = offline[panel] and _has_normalized(d)
            groups[panel][meta["algo"]].append((steps, returns))
    if not groups:
        raise KeelError("no evaluation results to plot in " + ", ".join(map(str, run_dirs)))
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    for ax, (env, algos) in zip(axes[0], sorted(groups.items())):
        for algo, runs in sorted(algos.items()):
            common = sorted(set.intersection(*(set(s.tolist()) for s, _ in runs)))
            curves = np.stack([[dict(zip(s.tolist(), r.tolist()))[c] for c in common] for s, r in runs])
            mean, lo, hi = mean_confidence_band(curves)
            band = ', mean ± 95% CI' if len(runs) > 1 else ''
            ax.plot(common, mean, label=f"{algo} ({len(runs)} seed{'s' if len(runs) > 1 else ''}{band})")
            ax.fill_between(common, lo, hi, alpha=0.25)
        ax.set_title(env)
        ax.set_xlabel("gradient updates" if offline[env] else "environment steps")
        ax.set_ylabel("normalized score (deterministic)" if normalized[env] else "evaluation return (deterministic)")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out
