"""Summarise a returns benchmark: keelrl vs Stable-Baselines3, same settings and seeds.

    .venv/bin/python benchmarks/compare_returns.py sac      # or td3, ddpg, ppo, dqn

Reads benchmarks/results/<algo>_returns/<lib>/<env>/seed<S>.csv (written by run_queue.sh), takes
each seed's FINAL deterministic evaluation (mean of 10 episodes at the end of the budget), and
reports per environment the interquartile mean over seeds with a 95% bootstrap interval
(scipy.stats.bootstrap of the 25%-trimmed mean, percentile method), the plain mean and the per-seed
values, the mean of each seed's last 5 evaluations (a less noisy second look, labelled as such),
the first evaluation step at which each seed reached --threshold (if given), and the
whole-run environment steps per second (both libraries ran side by side, one process each on a
2-core machine, so that figure is comparable between them, not absolute). Budgets come from the
jobs files (sac_jobs.txt, online_jobs.txt); only complete runs (final row at or past the budget:
PPO finishes its last rollout) count. Writes results/<algo>_returns/summary.json, table.md and
curves.png.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from scipy import stats

from keelrl.analysis.plots import mean_confidence_band

HERE = Path(__file__).resolve().parent
LIBS = ("keelrl", "sb3")


def budgets(algo: str) -> dict[str, int]:
    """env -> total steps, from the jobs files' lines for `algo`."""
    out = {}
    for jobs in ("sac_jobs.txt", "online_jobs.txt"):
        for line in (HERE / jobs).read_text().splitlines():
            f = line.split()
            if f and not f[0].startswith("#") and f[0] == algo:
                out[f[1]] = int(f[-3])
    return out


def read_curve(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """-> (steps, eval returns, wall-clock seconds of the whole run incl. evaluations)."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    wall = float(rows[-1]["wall_s"]) if rows else float("nan")
    return np.array([int(float(r["step"])) for r in rows]), np.array([float(r["eval_return_mean"]) for r in rows]), wall


def iqm_interval(x: np.ndarray) -> tuple[float, float, float]:
    iqm = float(stats.trim_mean(x, 0.25))
    if len(x) < 2:
        return iqm, float("nan"), float("nan")
    res = stats.bootstrap((x,), lambda s, axis: stats.trim_mean(s, 0.25, axis=axis), confidence_level=0.95,
                          n_resamples=10_000, method="percentile", random_state=0)
    return iqm, float(res.confidence_interval.low), float(res.confidence_interval.high)


def main() -> None:
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("algo")
    p.add_argument("--threshold", type=float, default=None, help="report the first eval step reaching this return")
    a = p.parse_args()
    root = HERE / "results" / f"{a.algo}_returns"
    summary: dict = {}
    curves: dict = {}
    for env, budget in budgets(a.algo).items():
        for lib in LIBS:
            finals, seeds, runs, sps, reach, last5 = [], [], [], [], [], []
            for path in sorted((root / lib / env).glob("seed*.csv")):
                if path.stem.endswith("_train"):
                    continue
                steps, ret, wall = read_curve(path)
                if len(steps) and steps[-1] >= budget:
                    finals.append(ret[-1])
                    last5.append(float(ret[-5:].mean()))
                    sps.append(steps[-1] / wall)
                    if a.threshold is not None:
                        hit = np.flatnonzero(ret >= a.threshold)
                        reach.append(int(steps[hit[0]]) if len(hit) else None)
                    seeds.append(int(path.stem[4:]))
                    runs.append((steps, ret))
            if not finals:
                continue
            x = np.array(finals)
            iqm, lo, hi = iqm_interval(x)
            summary.setdefault(env, {})[lib] = {"budget": budget, "seeds": seeds, "final_returns": x.round(2).tolist(),
                                                "mean": round(float(x.mean()), 2), "iqm": round(iqm, 2),
                                                "last5_mean_per_seed": [round(v, 2) for v in last5],
                                                "iqm_ci95": [round(lo, 2), round(hi, 2)],
                                                "env_steps_per_s_median": round(float(np.median(sps)), 1),
                                                **({"first_step_reaching_threshold": reach} if a.threshold is not None else {})}
            curves.setdefault(env, {})[lib] = runs

    extra = f" first eval ≥ {a.threshold:g} (per seed) |" if a.threshold is not None else ""
    lines = ["| env (budget) | library | seeds | final return, IQM [95% CI] | mean | per seed | mean of the last 5 evaluations (mean over seeds) | env steps/s (whole run, median) |" + extra,
             "|---|---|---|---|---|---|---|---|" + ("---|" if extra else "")]
    for env, libs in summary.items():
        for lib, s in libs.items():
            ci = "" if np.isnan(s["iqm_ci95"][0]) else f" [{s['iqm_ci95'][0]:.1f}, {s['iqm_ci95'][1]:.1f}]"
            lines.append(f"| {env} ({s['budget'] // 1000}k steps) | {lib} | {len(s['seeds'])} | {s['iqm']:.1f}{ci} | "
                         f"{s['mean']:.1f} | {', '.join(f'{v:.0f}' for v in s['final_returns'])} | {np.mean(s['last5_mean_per_seed']):.1f} | "
                         f"{s['env_steps_per_s_median']:.0f} |"
                         + (f" {', '.join('never' if r is None else f'{r // 1000}k' for r in s['first_step_reaching_threshold'])} |"
                            if extra else ""))
    table = "\n".join(lines)
    root.mkdir(parents=True, exist_ok=True)
    (root / "summary.json").write_text(json.dumps(summary, indent=2))
    (root / "table.md").write_text(table + "\n")
    print(table)
    _plot(curves, root / "curves.png")


def _plot(curves: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not curves:
        return
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.8), squeeze=False)
    for ax, (env, libs) in zip(axes[0], curves.items()):
        for lib, runs in libs.items():
            steps = runs[0][0]
            y = np.stack([r for s, r, *_ in runs if len(s) == len(steps)])
            m, lo, hi = mean_confidence_band(y)
            ax.plot(steps, m, label=f"{lib} ({len(y)} seeds, mean ± 95% CI)")
            ax.fill_between(steps, lo, hi, alpha=0.25)
        ax.set_title(env)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("deterministic eval return")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
