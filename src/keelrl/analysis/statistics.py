"""Scores over runs (seeds) and tasks -> point estimates with 95% stratified bootstrap intervals, and
performance profiles: the method of Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of
the Statistical Precipice" (NeurIPS), computed with their `rliable` package.

A score matrix is `[R, T]`: R runs (seeds) of one algorithm on each of T tasks, one number per run and
task (here each run's final deterministic evaluation). Aggregating over T > 1 tasks only makes sense
when the tasks share a scale (normalized scores); for raw returns pass one task at a time, `[R, 1]`.

The stratified bootstrap resamples the R runs with replacement *within each task* (tasks are strata,
never resampled) and reads the interval off the percentiles of the statistic over the resamples.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from keelrl.errors import KeelError

CONFIDENCE = 0.95
REPS = 2000          # rliable's default for profiles; its interval default is 50,000 (--reps 50000, ~5 s a group)
MIN_REPS = 200
SEED = 0


@dataclass(frozen=True)
class Estimate:
    """Statistics of one score matrix `[R, T]`."""
    n_runs: int
    n_tasks: int
    iqm: float
    """Interquartile mean: the mean of the middle 50% of all R·T scores (25% trimmed from each end,
    scipy.stats.trim_mean), equal to `rliable.metrics.aggregate_iqm` (see `iqm`)."""
    iqm_ci: tuple[float, float]
    """95% percentile stratified bootstrap interval of the IQM."""
    mean: float
    """Mean over tasks of the per-task mean over runs, `rliable.metrics.aggregate_mean`."""
    mean_ci: tuple[float, float]
    median: float
    """One task: median over runs. T > 1 tasks: median over tasks of the per-task mean,
    `rliable.metrics.aggregate_median` (so with T = 1, rliable's median would be the mean)."""
    std: float
    """One task: sample standard deviation over runs (ddof 1); NaN over several tasks or for one run."""


def check_scores(scores) -> np.ndarray:
    """scores -> a finite float array `[R, T]` with R, T >= 1, or KeelError."""
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2 or x.size == 0:
        raise KeelError(f"scores must be a [runs, tasks] matrix with at least one run and task, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise KeelError("scores must be finite (a run logged a NaN or infinite evaluation)")
    return x


@contextmanager
def seeded_numpy(seed: int):
    """Seed numpy's *global* generator for the block, then restore its state. rliable 1.2.0 draws its
    bootstrap indices with `np.random.choice` and ignores its `random_state` argument, so this is the
    way to make its intervals reproducible without disturbing the caller's random stream."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _check_reps(reps: int) -> None:
    if reps < MIN_REPS:
        raise KeelError(f"bootstrap repetitions must be >= {MIN_REPS} (rliable suggests 2,000 to 50,000), got {reps}")


def iqm(scores) -> float:
    """Interquartile mean of all the scores: sort them, drop floor(n/4) from each end, average the rest
    (so IQM(1..8) = mean(3, 4, 5, 6) = 4.5; below 4 scores nothing is dropped: the mean). The same computation as rliable.metrics.aggregate_iqm
    (scipy.stats.trim_mean(x, 0.25, axis=None)), bit for bit, without scipy's ~0.3 ms wrapper per call,
    which over thousands of bootstrap resamples per group made that most of a report's time."""
    x = np.ravel(scores)
    cut = int(0.25 * x.size)
    return float(np.mean(np.partition(x, (cut, x.size - cut - 1))[cut:x.size - cut]))


def interval_estimates(scores, reps: int = REPS, seed: int = SEED, confidence: float = CONFIDENCE) -> Estimate:
    """scores `[R, T]` -> IQM and mean with their stratified bootstrap intervals (percentile method,
    `rliable.library.get_interval_estimates`), median and std. Seeded: the same scores, reps and seed
    always give the same interval. With one run the interval collapses onto the point."""
    from rliable import library as rly
    from rliable import metrics
    x = check_scores(scores)
    _check_reps(reps)

    def iqm_and_mean(s: np.ndarray) -> np.ndarray:
        return np.array([iqm(s), metrics.aggregate_mean(s)])

    with seeded_numpy(seed):
        point, ci = rly.get_interval_estimates({"x": x}, iqm_and_mean, reps=reps, confidence_interval_size=confidence)
    (point_iqm, point_mean), ci = point["x"], ci["x"]
    r, t = x.shape
    return Estimate(
        n_runs=r, n_tasks=t, iqm=float(point_iqm), iqm_ci=(float(ci[0, 0]), float(ci[1, 0])),
        mean=float(point_mean), mean_ci=(float(ci[0, 1]), float(ci[1, 1])),
        median=float(np.median(x[:, 0]) if t == 1 else metrics.aggregate_median(x)),
        std=float(x[:, 0].std(ddof=1)) if t == 1 and r > 1 else float("nan"))


def score_distribution(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Run-score distribution F(τ) = (1 / R·T) Σ_t Σ_r 1[x_rt > τ] for each τ, the performance profile
    of Agarwal et al. 2021: what rliable's default profile computes, vectorized over τ (the same numbers, ~15x faster)."""
    return (scores[..., None] > taus).mean(axis=(0, 1))


def performance_profiles(score_dict: dict[str, np.ndarray], taus: np.ndarray, reps: int = REPS, seed: int = SEED,
                         confidence: float = CONFIDENCE) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """{name: scores [R, T]}, thresholds τ [K] -> ({name: F(τ) [K]}, {name: [2, K] bootstrap interval}),
    `rliable.library.create_performance_profile`. Each name is seeded on its own, so its band does not
    depend on which other algorithms are in the report."""
    from rliable import library as rly
    _check_reps(reps)
    profiles, cis = {}, {}
    for name, scores in score_dict.items():
        with seeded_numpy(seed):
            p, c = rly.create_performance_profile({name: check_scores(scores)}, taus, reps=reps,
                                                  confidence_interval_size=confidence,
                                                  custom_profile_func=score_distribution)
        profiles[name], cis[name] = p[name], c[name]
    return profiles, cis
