"""Summarise the offline benchmark: keelrl vs d3rlpy on the same Minari datasets and budgets.

    .venv/bin/python benchmarks/compare_offline.py

Reads benchmarks/results/<algo>_returns/<lib>/<dataset with / as _>/seed<S>.csv (written by
run_queue.sh from keelrl's eval.csv or d3rlpy_offline.py), keeps the runs that reached the budget
of offline_jobs.txt, and reports per (dataset, algorithm, library) the FINAL normalized score
100 · (R - R_random) / (R_expert - R_random) (10 deterministic episodes), its interquartile mean over
seeds with a 95% bootstrap interval (as compare_returns.py), the per-seed values, the mean of each
seed's last 3 evaluations, and the median whole-run training speed in updates/s (keelrl: from
metrics.csv, d3rlpy: its per-epoch figure; both exclude evaluation). Writes results/offline/
summary.json, table.md and curves.png.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from compare_returns import iqm_interval
from keelrl.analysis.plots import mean_confidence_band

HERE = Path(__file__).resolve().parent
LIBS = ("keelrl", "d3rlpy")


def jobs() -> list[tuple[str, str, int]]:
    """(algo, dataset, budget) of offline_jobs.txt, in file order."""
    out = []
    for line in (HERE / "offline_jobs.txt").read_text().splitlines():
        f = line.split()
        if f and not f[0].startswith("#"):
            out.append((f[0].split("@")[0], f[1], int(f[-3])))
    return out


def read_curve(path: Path) -> tuple[np.ndarray, np.ndarray, float | None]:
    """-> (updates, normalized scores, median training updates/s or None)."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    key = "eval_normalized_mean" if rows and "eval_normalized_mean" in rows[0] else "normalized_mean"
    steps = np.array([int(float(r["step"])) for r in rows])
    scores = np.array([float(r[key]) for r in rows])
    if rows and "updates_per_s" in rows[0]:  # d3rlpy_offline.py: per evaluation period, evaluation excluded
        ups = float(np.median([float(r["updates_per_s"]) for r in rows]))
    else:  # keelrl: metrics.csv's throughput column, logged every 1000 updates between evaluations
        metrics = path.with_name(path.stem + "_metrics.csv")
        ups = None
        if metrics.exists():
            with open(metrics) as f:
                ups = float(np.median([float(r["sps"]) for r in csv.DictReader(f)]))
    return steps, scores, ups


def main() -> None:
    root = HERE / "results"
    summary: dict = {}
    curves: dict = {}
    for algo, dataset, budget in jobs():
        key = dataset.replace("/", "_")
        for lib in LIBS:
            finals, seeds, last3, ups, runs = [], [], [], [], []
            for path in sorted((root / f"{algo}_returns" / lib / key).glob("seed*.csv")):
                if not path.stem[4:].isdigit():
                    continue
                steps, scores, speed = read_curve(path)
                if len(steps) and steps[-1] >= budget:
                    finals.append(scores[-1])
                    last3.append(float(scores[-3:].mean()))
                    seeds.append(int(path.stem[4:]))
                    runs.append((steps, scores))
                    if speed is not None:
                        ups.append(speed)
            if not finals:
                continue
            x = np.array(finals)
            iqm, lo, hi = iqm_interval(x)
            summary.setdefault(dataset, {}).setdefault(algo, {})[lib] = {
                "budget_updates": budget, "seeds": seeds, "final_normalized": x.round(2).tolist(),
                "iqm": round(iqm, 2), "iqm_ci95": [round(lo, 2), round(hi, 2)], "mean": round(float(x.mean()), 2),
                "last3_mean_per_seed": [round(v, 2) for v in last3],
                "updates_per_s_median": round(float(np.median(ups)), 1) if ups else None}
            curves.setdefault(dataset, {})[f"{algo} ({lib})"] = runs

    lines = ["| dataset | algorithm | library | seeds | final normalized score, IQM [95% CI] | mean | per seed | mean of the last 3 evaluations | training updates/s (median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for dataset, algos in summary.items():
        for algo, libs in algos.items():
            for lib, s in libs.items():
                ci = "" if np.isnan(s["iqm_ci95"][0]) else f" [{s['iqm_ci95'][0]:.1f}, {s['iqm_ci95'][1]:.1f}]"
                ups = "-" if s["updates_per_s_median"] is None else f"{s['updates_per_s_median']:.0f}"
                lines.append(f"| {dataset} ({s['budget_updates'] // 1000}k updates) | {algo} | {lib} | {len(s['seeds'])} | "
                             f"{s['iqm']:.1f}{ci} | {s['mean']:.1f} | {', '.join(f'{v:.1f}' for v in s['final_normalized'])} | "
                             f"{np.mean(s['last3_mean_per_seed']):.1f} | {ups} |")
    table = "\n".join(lines)
    out = root / "offline"
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "table.md").write_text(table + "\n")
    print(table)
    _plot(curves, out / "curves.png")


def _plot(curves: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not curves:
        return
    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4.2), squeeze=False)
    for ax, (dataset, groups) in zip(axes[0], curves.items()):
        for label, runs in groups.items():
            steps = runs[0][0]
            y = np.stack([r for s, r in runs if len(s) == len(steps)])
            m, lo, hi = mean_confidence_band(y)
            ax.plot(steps, m, label=f"{label}, {len(y)} seeds")
            ax.fill_between(steps, lo, hi, alpha=0.2)
        ax.set_title(dataset)
        ax.set_xlabel("gradient updates")
        ax.set_ylabel("normalized score (mean ± 95% CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
