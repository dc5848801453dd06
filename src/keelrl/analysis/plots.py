"""Learning curves: mean over seeds with a shaded 95% confidence band (each seed's curve below 3
seeds), grouped by (env or dataset, algorithm and its settings), the legend below the panels. Offline
runs plot the normalized score when their dataset has reference scores. Performance profiles (keel
report) are drawn here too."""
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


def _action_repeat(meta: dict) -> int:
    """Environment steps per agent step of a run: what its config.json recorded (train.run_folder.agent_step_meta),
    or, for a run made before it did, the action_repeat its environment was given; 1 otherwise."""
    return int(meta.get("action_repeat") or meta["run"].get("env_kwargs", {}).get("action_repeat", 1))


def _steps_label(repeats: set[int]) -> str:
    """A panel's x axis: the loop counts agent steps, which are environment steps unless actions repeat."""
    if repeats == {1}:
        return "environment steps"
    if len(repeats) == 1:
        return f"agent steps (each {next(iter(repeats))} environment steps)"
    return "agent steps (action repeats " + ", ".join(map(str, sorted(repeats))) + " environment steps)"


# Run settings that do not change what is learned: the task (the panel), the seed (what varies within
# a group), the output folder, hardware and speed, logging, checkpointing and evaluation bookkeeping.
# Every other setting (the algorithm's Config, total_steps, num_envs, and any run setting added later)
# tells runs apart.
NOT_SETTINGS = frozenset({"env", "dataset", "seed", "seeds", "run_dir", "overwrite", "device", "threads", "progress",
                          "compile", "cuda_graphs", "eval_every", "eval_episodes", "checkpoint_every",
                          "keep_checkpoints", "log_every", "track", "track_project", "track_uri"})


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


PER_SEED_BELOW = 3
"""Groups with fewer seeds draw each seed's curve instead of a confidence band (a Student-t band
over two seeds is wider than the data: its t quantile is 12.7)."""
LEGEND_WIDTH = 60
"""Legend labels are wrapped at this many characters."""


def group_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, str]:
    """curves [S, T] of a group's seeds -> (mean, low, high, what the legend says). From PER_SEED_BELOW
    seeds on, the 95% Student-t band of the mean, clipped to the range the seeds span (a band can then
    never dwarf the data); below, no band (low = high = None): each seed's curve is drawn instead."""
    n, mean = len(curves), curves.mean(0)
    if n < PER_SEED_BELOW:
        return mean, None, None, "1 seed" if n == 1 else f"{n} seeds: mean and each seed"
    _, lo, hi = mean_confidence_band(curves)
    floor, ceiling = curves.min(0), curves.max(0)
    clipped = bool((lo < floor).any() or (hi > ceiling).any())
    return (mean, np.maximum(lo, floor), np.minimum(hi, ceiling),
            f"{n} seeds, mean ± 95% CI" + (", clipped to the seeds' range" if clipped else ""))


def eval_walls(run_dir: Path) -> dict[int, float]:
    """step -> wall-clock seconds (eval.csv's wall_s) of a run's evaluations."""
    with open(Path(run_dir) / "eval.csv", newline="") as f:
        return {int(r["step"]): float(r["wall_s"]) for r in csv.DictReader(f) if r.get("wall_s")}


def _clock_axis(seconds: np.ndarray) -> tuple[np.ndarray, str]:
    top = float(np.max(seconds)) if len(seconds) else 0.0
    if top >= 2 * 3600:
        return seconds / 3600, "wall-clock hours"
    if top >= 120:
        return seconds / 60, "wall-clock minutes"
    return seconds, "wall-clock seconds"


def save_figure(fig, out: Path) -> Path:
    """Write `fig` atomically, its bounding box grown to hold everything drawn (legends outside the axes too)."""
    import matplotlib.pyplot as plt
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=110, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    tmp.replace(out)
    return out


def legend_below(fig, axes, handles: list, labels: list[str]) -> None:
    """One legend for the whole figure, below the axes, its labels wrapped (never over the curves)."""
    import textwrap
    wrapped = [textwrap.fill(label, LEGEND_WIDTH, subsequent_indent="  ") for label in labels]
    ncol = max(1, min(len(wrapped), len(axes)))
    fig.legend(handles, wrapped, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, frameon=False,
               fontsize="small")


def plot_runs(run_dirs: list[Path], out: Path, title: str | None = None, x: str = "steps") -> Path:
    """One panel per environment (or dataset), one curve per algorithm and settings (config_labels,
    which name only what differs between groups), on the steps all of a group's runs reached:

    - 3 seeds or more: their mean with its 95% Student-t band, clipped to the range the seeds span (the
      legend says when it was clipped);
    - fewer: the mean, and each seed's curve as a thin line.

    `x`: "steps" (environment steps, or gradient updates offline) or "wall" (the wall-clock time the
    runs took to reach each evaluation, averaged over a group's seeds). The legend sits below the
    panels, its labels wrapped, and the figure grows to hold it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if x not in ("steps", "wall"):
        raise KeelError(f"the x axis is steps or wall, got {x!r}")
    check_image_path(out)
    groups: dict[str, dict[str, list[tuple[Path, np.ndarray, np.ndarray]]]] = defaultdict(lambda: defaultdict(list))
    offline: dict[str, bool] = {}
    repeats: dict[str, set[int]] = defaultdict(set)
    normalized: dict[str, bool] = {}
    order: dict[str, tuple] = {}
    evaluated = []
    for d in map(Path, run_dirs):
        meta, steps, returns = load_eval_curve(d)
        if len(steps):
            panel, offline[panel] = _panel(meta)
            repeats[panel].add(_action_repeat(meta))
            normalized[panel] = offline[panel] and _has_normalized(d)
            evaluated.append((d, panel, meta["algo"], run_settings(meta), steps, returns))
    for (d, panel, algo, _, steps, returns), (label, named) in zip(
            evaluated, config_labels([(algo, settings) for _, _, algo, settings, _, _ in evaluated])):
        groups[panel][label].append((d, steps, returns))
        order[label] = label_order(algo, named)
    if not groups:
        raise KeelError("no evaluation results to plot in " + ", ".join(map(str, run_dirs)))
    labels = sorted({label for labelled in groups.values() for label in labelled}, key=lambda k: order[k])
    colors = dict(zip(labels, plt.rcParams["axes.prop_cycle"].by_key()["color"] * len(labels)))
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    legend: dict[str, object] = {}
    for ax, (env, labelled) in zip(axes[0], sorted(groups.items())):
        xlabel = "gradient updates" if offline[env] else _steps_label(repeats[env])
        for label, runs in sorted(labelled.items(), key=lambda item: order[item[0]]):
            common = sorted(set.intersection(*(set(s.tolist()) for _, s, _ in runs)))
            curves = np.stack([[dict(zip(s.tolist(), r.tolist()))[c] for c in common] for _, s, r in runs])
            xs = np.asarray(common, dtype=float)
            if x == "wall":
                walls = [eval_walls(d) for d, _, _ in runs]
                xs, xlabel = _clock_axis(np.array([np.mean([w.get(c, np.nan) for w in walls]) for c in common]))
            color = colors[label]
            mean, lo, hi, how = group_band(curves)
            if lo is not None:
                ax.fill_between(xs, lo, hi, color=color, alpha=0.25)
            else:
                for curve in curves if len(curves) > 1 else []:
                    ax.plot(xs, curve, color=color, alpha=0.35, linewidth=0.8)
            marker = "o" if len(xs) < 3 else None   # one or two evaluations: points, not an invisible line
            line, = ax.plot(xs, mean, color=color, linewidth=1.8, marker=marker)
            legend.setdefault(f"{label} ({how})", line)
        ax.set_title(env)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("normalized score (deterministic)" if normalized[env] else "evaluation return (deterministic)")
        ax.grid(alpha=0.3)
    legend_below(fig, axes[0], list(legend.values()), list(legend))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out)


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
    handles = {algo: plt.Line2D([], [], color=colors[algo], linewidth=2) for algo in algos}
    legend_below(fig, axes[0], list(handles.values()), list(handles))
    fig.tight_layout()
    return save_figure(fig, out)
