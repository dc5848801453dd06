"""IQM, its stratified bootstrap interval and performance profiles: by hand, and against rliable's own functions."""
import numpy as np
import pytest
from rliable import library as rly
from rliable import metrics

from keelrl.analysis.statistics import SEED, interval_estimates, iqm, performance_profiles
from keelrl.errors import KeelError

RUNS_BY_TASKS = np.array([[12.0, 0.5, 70.0], [3.0, 0.9, 64.0], [8.0, 0.1, 90.0], [15.0, 0.7, 40.0],
                          [9.0, 0.3, 85.0], [1.0, 0.2, 77.0], [11.0, 0.8, 59.0]])      # 7 seeds x 3 tasks


def test_iqm_by_hand():
    # 1..8: drop floor(8/4) = 2 from each end -> mean(3, 4, 5, 6) = 4.5; an outlier moves the mean, not the IQM
    assert iqm(np.arange(1.0, 9.0)) == 4.5
    est = interval_estimates(np.array([1.0, 2, 3, 4, 5, 6, 7, 100])[:, None])
    assert (est.iqm, est.mean, est.median) == (4.5, 16.0, 4.5)
    assert iqm([1.0, 2.0, 30.0]) == 11.0          # fewer than 4 scores: floor(n/4) = 0, nothing is trimmed


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (5, 1), (8, 1), (7, 3), (10, 5)])
def test_iqm_is_rliables_aggregate_iqm(shape):
    x = np.random.default_rng(sum(shape)).normal(size=shape) * 100
    assert iqm(x) == metrics.aggregate_iqm(x)


@pytest.mark.parametrize("scores", [RUNS_BY_TASKS[:, :1], RUNS_BY_TASKS[:, 1:]], ids=["one-task", "two-tasks"])
def test_interval_is_rliables_stratified_bootstrap(scores):
    est = interval_estimates(scores, reps=1000, seed=SEED)
    np.random.seed(SEED)     # rliable 1.2.0 draws from numpy's global generator (it ignores random_state)
    point, ci = rly.get_interval_estimates({"x": scores}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=1000)
    np.random.seed(SEED)
    mean, mean_ci = rly.get_interval_estimates({"x": scores}, lambda s: np.array([metrics.aggregate_mean(s)]), reps=1000)
    assert est.iqm == pytest.approx(point["x"][0], rel=1e-12)
    assert est.iqm_ci == pytest.approx(tuple(ci["x"][:, 0]), rel=1e-12)
    assert est.mean == pytest.approx(mean["x"][0], rel=1e-12)
    assert est.mean_ci == pytest.approx(tuple(mean_ci["x"][:, 0]), rel=1e-12)
    assert est.iqm_ci[0] < est.iqm < est.iqm_ci[1]
    assert (est.n_runs, est.n_tasks) == scores.shape


def test_median_and_std():
    one = interval_estimates(RUNS_BY_TASKS[:, :1])
    assert one.median == 9.0 and one.std == pytest.approx(RUNS_BY_TASKS[:, 0].std(ddof=1))
    many = interval_estimates(RUNS_BY_TASKS)      # across tasks: rliable's median of the task means; no std
    assert many.median == pytest.approx(metrics.aggregate_median(RUNS_BY_TASKS)) and np.isnan(many.std)


def test_seeded_and_leaves_the_global_generator_alone():
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    a = interval_estimates(RUNS_BY_TASKS, reps=300)
    assert np.random.rand() == expected
    b = interval_estimates(RUNS_BY_TASKS, reps=300)
    assert (b.iqm_ci, b.mean_ci) == (a.iqm_ci, a.mean_ci)
    assert interval_estimates(RUNS_BY_TASKS, reps=300, seed=1).iqm_ci != a.iqm_ci


def test_one_run_collapses_the_interval():
    est = interval_estimates([[5.0]])
    assert est.iqm_ci == (5.0, 5.0) and np.isnan(est.std)


def test_performance_profile_is_rliables():
    scores = {"a": RUNS_BY_TASKS[:, :1], "b": RUNS_BY_TASKS[:, :1] + 2.0}
    taus = np.linspace(0.0, 20.0, 21)
    profiles, cis = performance_profiles(scores, taus, reps=300)
    for name, x in scores.items():
        np.random.seed(SEED)
        ref, ref_ci = rly.create_performance_profile({name: x}, taus, reps=300)     # rliable's default profile
        np.testing.assert_allclose(profiles[name], ref[name])
        np.testing.assert_allclose(cis[name], ref_ci[name])
    np.testing.assert_allclose(profiles["a"][[0, 10, 20]], [1.0, 3 / 7, 0.0])    # fraction of runs > τ


@pytest.mark.parametrize("scores, reps, message", [
    (np.ones(3), 1000, "[runs, tasks] matrix"),
    (np.array([[1.0], [np.nan]]), 1000, "finite"),
    (np.ones((3, 1)), 10, "repetitions must be >= 200"),
])
def test_bad_input(scores, reps, message):
    with pytest.raises(KeelError, match=message.replace("[", r"\[").replace("]", r"\]")):
        interval_estimates(scores, reps=reps)
