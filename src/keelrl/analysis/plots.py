"""Learning curves: mean over seeds with a shaded 95% confidence band, grouped by (env or dataset,
algorithm and its settings). Offline runs plot the normalized score when their dataset has reference
scores. Performance profiles (keel report) are drawn here too."""
from __future__ import annotations

import csv
import json
import re
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
    try:
        meta = json.loads(cfg_path.read_text())
        if not isinstance(meta, dict) or "algo" not in meta or not isinstance(meta.get("run"), dict):
            raise ValueError("no algo or run entry")
    except ValueError as e:
        raise KeelError(f"{cfg_path} is not a keelrl run's config ({e}); restore it from a copy") from None
    eval_csv = run_dir / "eval.csv"
    rows: list[dict] = []
    if eval_csv.exists():
        with open(eval_csv, newline="") as f:
            rows = list(csv.DictReader(f))
    try:
        steps = np.array([int(r["step"]) for r in rows])
        key = "eval_normalized_mean" if rows and rows[0].get("eval_normalized_mean") else "eval_return_mean"
        returns = np.array([float(r[key]) for r in rows])
    except (KeyError, ValueError, TypeError) as e:
        raise KeelError(f"{eval_csv} is not a keelrl eval.csv (bad or missing {e}); keelrl writes it with the "
                        f"columns step, eval_return_mean, ...") from None
    return meta, steps, returns


def check_image_path(out: Path) -> None:
    """Refuse, in one line, an output file whose extension matplotlib cannot write."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if Path(out).suffix.lstrip(".").lower() not in formats:
        raise KeelError(f"cannot write a plot to {out}: the file name must end in one of "
                        f"{', '.join('.' + f for f in sorted(formats))}")


def _panel(meta: dict) -> tuple[str, bool]:
    """(panel title, offline?) of a run: its environment, or its dataset."""
    run = meta["run"]
    return (f"dataset {run['dataset']}", True) if "dataset" in run else (run["env"], False)


# Run settings that do not change what is learned: the task (the panel), the seed (what varies within
# a group), the output folder, hardware and speed, logging, checkpointing and evaluation bookkeeping.
# Every other setting (the algorithm's Config, total_steps, num_envs, and any run setting added later)
# tells runs apart.
NOT_SETTINGS = frozenset({"env", "dataset", "seed", "seeds", "run_dir", "overwrite", "device", "threads", "progress",
                          "compile", "cuda_graphs", "eval_every", "eval_episodes", "checkpoint_every",
                          "keep_checkpoints", "log_every"})


def run_settings(meta: dict) -> dict:
    """A run's config.json -> the settings that make its learning what it is: its algorithm's Config
    ("algo_config") and its run settings ("run"), less NOT_SETTINGS. Runs of one algorithm pool as
    seeds of one group only when these are equal."""
    algo_config = {k: v for k, v in meta.get("algo_config", {}).items() if k not in NOT_SETTINGS}
    run = {(f"run.{k}" if k in algo_config else k): v for k, v in meta["run"].items() if k not in NOT_SETTINGS}
    return {**algo_config, **run}


def format_setting(value) -> str:
    """A setting's value, short and exact: 0.0003, 1e-5, 1e6, 256, [256,256], True, None (1 and 1.0 alike)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = f"{value:.6g}"
        if float(text) != value:
            text = repr(value)
        return re.sub(r"e([+-])0*(?=\d)", lambda m: "e-" if m[1] == "-" else "e", text)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(format_setting, value)) + "]"
    return str(value)


def config_labels(runs: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """[(algorithm, run_settings)] of each run -> [(label, the settings the label names)] of each run.

    An algorithm all of whose runs have the same settings is labelled by its name (`sac`); one with
    several is labelled with the settings that differ among its runs, sorted: `sac (actor_lr=0.001,
    critic_lr=0.001)`. Runs are in one group exactly when their labels are equal. A setting missing from
    a run's config.json (written by an older keelrl) counts as None."""
    by_algo: dict[str, list[dict]] = defaultdict(list)
    for algo, settings in runs:
        by_algo[algo].append(settings)
    differing = {algo: sorted(k for k in set().union(*configs)
                              if len({format_setting(c.get(k)) for c in configs}) > 1)
                 for algo, configs in by_algo.items()}
    labels = []
    for algo, settings in runs:
        named = {k: settings.get(k) for k in differing[algo]}
        text = ", ".join(f"{k}={format_setting(v)}" for k, v in named.items())
        labels.append((f"{algo} ({text})" if text else algo, named))
    return labels


def label_order(algo: str, named: dict) -> tuple:
    """Sort key of a labelled group: its algorithm, then the values its label names (numbers by value)."""
    return algo, tuple((0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))
                       for _, v in sorted(named.items()))


def _has_normalized(run_dir: Path) -> bool:
    with open(run_dir / "eval.csv", newline="") as f:
        first = next(csv.DictReader(f), {})
    return bool(first.get("eval_normalized_mean"))


def plot_runs(run_dirs: list[Path], out: Path, title: str | None = None) -> Path:
    """One panel per environment, one line per algorithm and settings (config_labels): mean evaluation
    return over the runs (seeds) with a 95% band, on the steps all of them reached."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check_image_path(out)
    groups: dict[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]] = defaultdict(lambda: defaultdict(list))
    offline: dict[str, bool] = {}
    normalized: dict[str, bool] = {}
    order: dict[str, tuple] = {}
    evaluated = []
    for d in map(Path, run_dirs):
        meta, steps, returns = load_eval_curve(d)
        if len(steps):
            panel, offline[panel] = _panel(meta)
            normalized[panel] = offline[panel] and _has_normalized(d)
            evaluated.append((panel, meta["algo"], run_settings(meta), steps, returns))
    for (panel, algo, _, steps, returns), (label, named) in zip(
            evaluated, config_labels([(algo, settings) for _, algo, settings, _, _ in evaluated])):
        groups[panel][label].append((steps, returns))
        order[label] = label_order(algo, named)
    if not groups:
        raise KeelError("no evaluation results to plot in " + ", ".join(map(str, run_dirs)))
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    for ax, (env, labelled) in zip(axes[0], sorted(groups.items())):
        for label, runs in sorted(labelled.items(), key=lambda item: order[item[0]]):
            common = sorted(set.intersection(*(set(s.tolist()) for s, _ in runs)))
            curves = np.stack([[dict(zip(s.tolist(), r.tolist()))[c] for c in common] for s, r in runs])
            mean, lo, hi = mean_confidence_band(curves)
            band = ', mean ± 95% CI' if len(runs) > 1 else ''
            ax.plot(common, mean, label=f"{label} ({len(runs)} seed{'s' if len(runs) > 1 else ''}{band})")
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


def plot_performance_profiles(panels: list[dict], out: Path) -> Path:
    """One panel per entry of `panels` ({"title", "xlabel", "taus" [K], "profiles": {algo: [K]},
    "cis": {algo: [2, K]}}): the fraction of runs scoring above τ, with its 95% bootstrap band
    (keelrl.analysis.statistics.performance_profiles), drawn by rliable's plot_performance_profiles.
    An algorithm keeps its colour across panels."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import plot_utils

    algos = sorted({a for p in panels for a in p["profiles"]})
    colors = dict(zip(algos, plt.rcParams["axes.prop_cycle"].by_key()["color"] * len(algos)))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, p in zip(axes[0], panels):
        plot_utils.plot_performance_profiles(
            p["profiles"], p["taus"], p["cis"], ax=ax, colors=colors, xlabel=p["xlabel"],
            ylabel=r"fraction of runs with score $> \tau$", labelsize="medium", ticklabelsize="medium")
        ax.set_title(p["title"])
        ax.legend()
    fig.tight_layout()
    out = Path(out)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out
