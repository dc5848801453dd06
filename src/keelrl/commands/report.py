"""`keel report`: the results of many runs as numbers one can compare.

Runs are grouped by task (the environment, or the dataset for offline runs), algorithm and settings:
runs pool as seeds of one group only when their algorithm's Config and their learning-relevant run
settings (total_steps, num_envs, ...; keelrl.analysis.plots.run_settings) are equal, so the points of a
hyperparameter sweep stay apart. A group is labelled by its algorithm's name (`sac`) when the report
holds one configuration of it, and otherwise by the settings that differ among that algorithm's
configurations (`sac (actor_lr=0.001)`, keelrl.analysis.plots.config_labels). Each run (seed)
contributes ONE number: its final deterministic evaluation, the last row of its eval.csv,
which is the normalized score when the run's eval.csv has one (offline runs on datasets with
reference scores) and the evaluation return otherwise. Per group: the interquartile mean over seeds
with a 95% stratified bootstrap interval, mean ± std and median (keelrl.analysis.statistics, i.e.
rliable). Raw returns of different environments do not share a scale, so they are reported per task
only; when two or more tasks have normalized scores, each group (label) that ran all of them with the
same number of seeds also gets one aggregate row over them (Agarwal et al. 2021).

Writes OUT/table.md, OUT/summary.json, OUT/curves.png (learning curves, keelrl.analysis.plots) and
OUT/profiles.png (performance profiles), each atomically.
"""
from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from keelrl.analysis.plots import (_has_normalized, _panel, config_labels, label_order, load_eval_curve,
                                   plot_performance_profiles, plot_runs, run_settings)
from keelrl.analysis.runs import find_run_dirs, is_keelrl_config
from keelrl.analysis.statistics import CONFIDENCE, REPS, SEED, Estimate, interval_estimates, performance_profiles
from keelrl.errors import KeelError

MIN_SEEDS = 3
PROFILE_POINTS = 101


@dataclass(frozen=True)
class FinalEval:
    """One run's last evaluation."""
    run_dir: Path
    task: str                 # env id, or "dataset ID"
    algo: str
    seed: int | None
    step: int                 # environment steps (online) or gradient updates (offline) at that evaluation
    n_evals: int
    score: float              # normalized score if `normalized`, else the mean deterministic return
    normalized: bool
    settings: dict            # what makes its learning what it is (keelrl.analysis.plots.run_settings)
    label: str = ""           # its group's label, given by build_report over all the runs reported
    named: dict = field(default_factory=dict)   # the settings the label names
    success: float | None = None   # that evaluation's success rate (environments that report success)


@dataclass
class Report:
    table: str                # the markdown of table.md
    summary: dict             # the content of summary.json
    warnings: list[str]       # one line each
    files: list[Path]


def read_final_eval(run_dir: Path) -> FinalEval | None:
    """A run folder -> its last evaluation, or None when it has not evaluated yet."""
    if not is_keelrl_config(run_dir / "config.json"):
        raise KeelError(f"{run_dir} is not a keelrl run folder (its config.json is unreadable or has no algo/run)")
    try:
        meta, steps, scores = load_eval_curve(run_dir)
    except (KeyError, ValueError) as e:
        raise KeelError(f"{run_dir / 'eval.csv'} is not a keelrl eval.csv (bad or missing {e})") from None
    if not len(steps):
        return None
    task, offline = _panel(meta)
    return FinalEval(run_dir, task, meta["algo"], meta["run"].get("seed"), int(steps[-1]), len(steps),
                     float(scores[-1]), offline and _has_normalized(run_dir), run_settings(meta),
                     success=_last_success_rate(run_dir))


def _last_success_rate(run_dir: Path) -> float | None:
    """The last evaluation's success rate, when eval.csv records one."""
    import csv
    with open(run_dir / "eval.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    value = rows[-1].get("eval_success_rate") if rows else None
    return float(value) if value not in (None, "") else None


def _group(finals: list[FinalEval]) -> dict[str, dict[str, list[FinalEval]]]:
    """task -> group label -> runs sorted by seed, groups by algorithm then by the values their labels
    name; refuses a task whose runs mix normalized and raw scores."""
    labels = config_labels([(f.algo, f.settings) for f in finals])
    groups: dict[str, dict[str, list[FinalEval]]] = defaultdict(lambda: defaultdict(list))
    for f, (label, named) in zip(finals, labels):
        groups[f.task][label].append(replace(f, label=label, named=named))
    for task, labelled in groups.items():
        if len({f.normalized for runs in labelled.values() for f in runs}) > 1:
            raise KeelError(f"runs on {task} mix normalized scores and raw returns; report them separately")
        for runs in labelled.values():
            runs.sort(key=lambda f: (f.seed is None, f.seed or 0, str(f.run_dir)))
    return {t: dict(sorted(g.items(), key=_order)) for t, g in sorted(groups.items())}


def _order(item: tuple[str, list[FinalEval]]) -> tuple:
    return label_order(item[1][0].algo, item[1][0].named)


def _group_json(f: FinalEval) -> dict:
    """A group's identity in summary.json: its algorithm and the settings its label names."""
    return {"algorithm": f.algo, "config": f.named}


def _fmt(scale: float):
    digits = 1 if scale >= 100 else 2 if scale >= 1 else 4
    return lambda x: "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _estimate_json(est: Estimate) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(est).items()}


def _steps(runs: list[FinalEval]) -> str:
    lo, hi = min(f.step for f in runs), max(f.step for f in runs)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def build_report(run_dirs: list[Path], reps: int = REPS, seed: int = SEED) -> tuple[Report, dict, list]:
    """Run folders -> (Report without files, task groups, profile panels). See the module docstring."""
    warnings: list[str] = []
    finals = []
    for d in run_dirs:
        f = read_final_eval(d)
        if f is None:
            warnings.append(f"{d} has no evaluation yet; left out")
        else:
            finals.append(f)
    if not finals:
        raise KeelError("no evaluation results to report in " + ", ".join(map(str, run_dirs))
                        + " (runs write eval.csv every --eval-every steps)")
    groups = _group(finals)
    header = (f"Final deterministic evaluation of each run (last row of eval.csv), over seeds. Runs pool as seeds "
              f"only when their algorithm and settings are equal; where an algorithm ran with several settings, "
              f"its label names those that differ. Final step: the loop's steps at that evaluation (environment "
              f"steps; agent steps where actions repeat, each as many environment steps as config.json's "
              f"action_repeat says; gradient updates offline). IQM: interquartile "
              f"mean; [95% CI]: stratified bootstrap, percentile method, {reps} resamples, seed {seed} (rliable; "
              f"Agarwal et al. 2021). mean ± std: over seeds (sample std). Rows \"all N normalized tasks\": every "
              f"run of every task with normalized scores; their mean and median are those of the task means.")
    lines = ["| task | score | algorithm | seeds | final step | IQM [95% CI] | mean ± std | median |",
             "|---|---|---|---:|---:|---|---|---|"]
    summary: dict = {"method": {"statistic": "final deterministic evaluation per run", "confidence": CONFIDENCE,
                                "interval": "stratified bootstrap, percentile (rliable.library.get_interval_estimates)",
                                "reps": reps, "seed": seed},
                     "tasks": {}, "aggregate": None, "warnings": warnings}
    panels = []
    for task, labelled in groups.items():
        task_lines, summary["tasks"][task], panel = _task_section(task, labelled, reps, seed, warnings)
        lines += task_lines
        panels.append(panel)
    agg = _aggregate(groups, reps, seed, warnings)
    if agg is not None:
        summary["aggregate"] = agg["summary"]
        title = f"all {len(agg['tasks'])} normalized tasks"
        fmt = _fmt(max((float(np.abs(s).max()) for s in agg["scores"].values()), default=0.0))
        for label, est in agg["estimates"].items():
            lines.append(f"| {title} | normalized score | {label} | {est.n_runs} per task | | {fmt(est.iqm)} "
                         f"[{fmt(est.iqm_ci[0])}, {fmt(est.iqm_ci[1])}] | {fmt(est.mean)} | {fmt(est.median)} |")
        if agg["scores"]:
            panels.append(_profile_panel(title, "normalized score", agg["scores"], reps, seed))
    table = "\n".join([header, "", *lines]) + "\n"
    return Report(table, summary, warnings, []), groups, panels


def _task_section(task: str, groups: dict[str, list[FinalEval]], reps: int, seed: int,
                  warnings: list[str]) -> tuple[list[str], dict, dict]:
    """One task's groups -> (their table rows, the task's summary.json entry, its profile panel)."""
    unit = "normalized score" if next(iter(groups.values()))[0].normalized else "return"
    fmt = _fmt(max(abs(f.score) for runs in groups.values() for f in runs))
    lines, entry, scores = [], {"score": unit, "algorithms": {}}, {}
    for label, runs in groups.items():
        n, seeds = len(runs), [f.seed for f in runs]
        if n < MIN_SEEDS:
            warnings.append(f"{label} on {task}: {n} seed{'s' if n > 1 else ''}; a bootstrap interval over "
                            f"fewer than {MIN_SEEDS} is meaningless (reported anyway)")
        if len(set(seeds)) < n:
            warnings.append(f"{label} on {task}: several runs share a seed ({seeds})")
        scores[label] = np.array([[f.score] for f in runs])                                 # [R, 1]
        est = interval_estimates(scores[label], reps, seed)
        lines.append(f"| {task} | {unit} | {label} | {n} | {_steps(runs)} | {fmt(est.iqm)} "
                     f"[{fmt(est.iqm_ci[0])}, {fmt(est.iqm_ci[1])}] | {fmt(est.mean)} ± {fmt(est.std)} "
                     f"| {fmt(est.median)} |")
        entry["algorithms"][label] = {
            **_group_json(runs[0]), **_estimate_json(est), "seeds": seeds, "scores": [f.score for f in runs],
            "final_steps": [f.step for f in runs], "evaluations": [f.n_evals for f in runs],
            "runs": [str(f.run_dir) for f in runs]}
        if all(f.success is not None for f in runs):   # the task reports success: a row of success rates too
            rates = interval_estimates(np.array([[f.success] for f in runs]), reps, seed)
            lines.append(f"| {task} | success rate | {label} | {n} | {_steps(runs)} | {rates.iqm:.2f} "
                         f"[{rates.iqm_ci[0]:.2f}, {rates.iqm_ci[1]:.2f}] | {rates.mean:.2f} ± {rates.std:.2f} "
                         f"| {rates.median:.2f} |")
            entry["algorithms"][label]["success_rate"] = {**_estimate_json(rates), "rates": [f.success for f in runs]}
    return lines, entry, _profile_panel(task, unit, scores, reps, seed)


def _aggregate(groups: dict, reps: int, seed: int, warnings: list[str]) -> dict | None:
    """Across the tasks with normalized scores (when there are >= 2): each group (label) with runs on all
    of them and the same number of seeds on each -> its `[R, T]` matrix and Estimate."""
    tasks = [t for t, labelled in groups.items() if next(iter(labelled.values()))[0].normalized]
    if len(tasks) < 2:
        return None
    first = {label: runs[0] for t in tasks for label, runs in groups[t].items()}
    scores, estimates = {}, {}
    for label in sorted(first, key=lambda label: label_order(first[label].algo, first[label].named)):
        counts = [len(groups[t].get(label, [])) for t in tasks]
        if min(counts) == 0 or len(set(counts)) > 1:
            warnings.append(f"no aggregate for {label}: it needs the same number of seeds on each of the "
                            f"{len(tasks)} normalized tasks, has {counts}")
            continue
        scores[label] = np.array([[f.score for f in groups[t][label]] for t in tasks]).T   # [R, T]
        estimates[label] = interval_estimates(scores[label], reps, seed)
    summary = {"score": "normalized score", "tasks": tasks,
               "algorithms": {label: {**_group_json(first[label]), **_estimate_json(e),
                                      "scores": scores[label].tolist()} for label, e in estimates.items()}}
    return {"tasks": tasks, "scores": scores, "estimates": estimates, "summary": summary}


def _profile_panel(title: str, unit: str, scores: dict[str, np.ndarray], reps: int, seed: int) -> dict:
    every = np.concatenate([s.ravel() for s in scores.values()])
    lo, hi = float(every.min()), float(every.max())
    pad = 0.05 * (hi - lo) or 1.0
    taus = np.linspace(lo - pad, hi + pad, PROFILE_POINTS)
    profiles, cis = performance_profiles(scores, taus, reps, seed)
    return {"title": title, "xlabel": f"final {unit} (τ)", "taus": taus, "profiles": profiles, "cis": cis}


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(paths: list[Path], out: Path = Path("report"), reps: int = REPS, seed: int = SEED) -> Report:
    """Run folders (or folders containing them) -> OUT/table.md, summary.json, curves.png, profiles.png."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise KeelError(f"report folder {out} is a file; pass a folder (it receives table.md, summary.json, "
                        f"curves.png and profiles.png)")
    run_dirs = find_run_dirs(paths)
    report, groups, panels = build_report(run_dirs, reps, seed)
    out.mkdir(parents=True, exist_ok=True)
    evaluated = [f.run_dir for labelled in groups.values() for runs in labelled.values() for f in runs]
    report.files = [out / "table.md", out / "summary.json",
                    plot_runs(evaluated, out / "curves.png"), plot_performance_profiles(panels, out / "profiles.png")]
    _write_text(out / "table.md", report.table)
    _write_text(out / "summary.json", json.dumps(report.summary, indent=2) + "\n")
    return report
