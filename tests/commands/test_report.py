"""`keel report`: real tiny runs end to end, groups by algorithm and settings (sweeps), the cross-task
aggregate on normalized scores, and bad input."""
import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from rliable import library as rly
from rliable import metrics

import keelrl.analysis.plots as plots
import keelrl.commands.report as report
import keelrl.analysis.statistics as statistics
from keelrl.algos import get_algo
from keelrl.analysis.plots import config_labels, format_setting
from keelrl.analysis.statistics import SEED
from keelrl.cli import main
from keelrl.train.config import RunConfig
from keelrl.train.dispatch import train

PNG = b"\x89PNG"


def _train(run_dir, algo, seed, stop_at=None, threads=0, **config):
    """A real tiny run on Pendulum-v1: 200 steps budgeted, evaluated every 100, stopped after `stop_at`."""
    cfg = get_algo(algo).config(hidden_sizes=(8, 8), batch_size=8, learning_starts=50, **config)
    run = RunConfig(env="Pendulum-v1", seed=seed, total_steps=200, eval_every=100, eval_episodes=1, progress=False,
                    device="cpu", threads=threads, run_dir=str(run_dir))
    train(algo, run, cfg, None if stop_at is None else lambda step: step >= stop_at)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """runs/: SAC seed 1 (2 evaluations) and seed 2 (stopped after 1, other threads), TD3 seed 1 (stopped
    after 1): the same settings but for seed, run_dir and threads. lr/: SAC seed 1 with actor_lr 1e-3."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    _train(root / "runs" / "sac-s1", "sac", 1)
    _train(root / "runs" / "sac-s2", "sac", 2, stop_at=100, threads=1)
    _train(root / "runs" / "td3-s1", "td3", 1, stop_at=100)
    _train(root / "lr" / "sac-s1", "sac", 1, stop_at=100, actor_lr=1e-3)
    return root / "runs"


def _captured_legends(monkeypatch) -> list:
    """Record the legend labels of every figure saved from now on (the figure's legend, below its
    panels; labels unwrapped): one list per figure."""
    import matplotlib.figure
    saved, savefig = [], matplotlib.figure.Figure.savefig

    def record(fig, *args, **kwargs):
        saved.append([t.get_text().replace("\n  ", " ") for legend in fig.legends for t in legend.get_texts()])
        return savefig(fig, *args, **kwargs)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    return saved


def _final(run_dir, column="eval_return_mean"):
    with open(run_dir / "eval.csv", newline="") as f:
        return float(list(csv.DictReader(f))[-1][column])


def _fake_run(run_dir, algo, dataset, seed, scores, **config):
    """A run folder as an offline run writes it, with normalized scores = `scores` at steps 10, 20, ...
    and algo_config `config`."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"algo": algo, "offline": True, "algo_config": config,
                                                      "run": {"dataset": dataset, "seed": seed}}))
    with open(run_dir / "eval.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "eval_return_mean", "eval_return_std", "wall_s", "eval_normalized_mean",
                    "eval_normalized_std"])
        for i, s in enumerate(scores):
            w.writerow([10 * (i + 1), 10 * s, 0.0, i, s, 0.0])


def test_report_of_real_runs(runs, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(runs), str(runs / "sac-s1"), "--out", str(out)]) == 0   # sac-s1 counted once
    stdout, stderr = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "profiles.png", "summary.json", "table.md"]
    for name in ("curves.png", "profiles.png"):
        assert (out / name).read_bytes()[:4] == PNG

    summary = json.loads((out / "summary.json").read_text())
    sac = summary["tasks"]["Pendulum-v1"]["algorithms"]["sac"]
    finals = [_final(runs / "sac-s1"), _final(runs / "sac-s2")]
    assert sac["seeds"] == [1, 2] and sac["final_steps"] == [200, 100] and sac["evaluations"] == [2, 1]
    assert sac["scores"] == pytest.approx(finals)
    assert sac["iqm"] == pytest.approx(metrics.aggregate_iqm(np.array(finals)))
    assert summary["tasks"]["Pendulum-v1"]["score"] == "return" and summary["aggregate"] is None
    assert summary["method"]["reps"] == 2000 and summary["method"]["seed"] == SEED

    table = (out / "table.md").read_text()
    assert table in stdout
    assert "| Pendulum-v1 | return | sac | 2 | 100–200 |" in table
    assert "| Pendulum-v1 | return | td3 | 1 | 100 |" in table
    warnings = stderr.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("keel: warning:") for w in warnings)
    assert "sac on Pendulum-v1: 2 seeds; a bootstrap interval over fewer than 3 is meaningless" in warnings[0]


def test_sweep_points_are_separate_groups_named_by_what_differs(runs, tmp_path, capsys, monkeypatch):
    legends = _captured_legends(monkeypatch)
    out = tmp_path / "report"
    assert main(["report", str(runs), str(runs.parent / "lr"), "--out", str(out)]) == 0
    stdout, _ = capsys.readouterr()
    groups = json.loads((out / "summary.json").read_text())["tasks"]["Pendulum-v1"]["algorithms"]
    assert list(groups) == ["sac (actor_lr=0.0003)", "sac (actor_lr=0.001)", "td3"]       # by algorithm, then value
    assert groups["sac (actor_lr=0.0003)"]["seeds"] == [1, 2]                             # threads differ: pooled
    assert groups["sac (actor_lr=0.001)"]["seeds"] == [1]
    assert groups["sac (actor_lr=0.001)"]["scores"] == pytest.approx([_final(runs.parent / "lr" / "sac-s1")])
    assert groups["sac (actor_lr=0.001)"]["algorithm"] == "sac"
    assert groups["sac (actor_lr=0.001)"]["config"] == {"actor_lr": 0.001}
    assert groups["td3"]["algorithm"] == "td3" and groups["td3"]["config"] == {}
    assert "| Pendulum-v1 | return | sac (actor_lr=0.001) | 1 | 100 |" in stdout
    assert "| Pendulum-v1 | return | sac (actor_lr=0.0003) | 2 | 100–200 |" in stdout
    curves, profiles = legends                                            # in the table's order
    assert [label.split(" (1 seed")[0].split(" (2 seeds")[0] for label in curves] == list(groups)
    assert profiles == list(groups)


def test_only_learning_settings_split_groups(runs, tmp_path, capsys):
    """Seed, folder, hardware, logging, checkpointing and evaluation settings (and --seeds groups) pool;
    total_steps and num_envs split."""
    def variant(name, **run):
        d = tmp_path / name
        shutil.copytree(runs / "sac-s2", d)
        meta = json.loads((d / "config.json").read_text())
        meta["run"].update(run_dir=str(d), **run)
        if "seed" in run:
            meta["seed_group"] = {"base": str(tmp_path), "seeds": [run["seed"]]}
        (d / "config.json").write_text(json.dumps(meta))
        return d

    pooled = variant("s3", seed=3, seeds="", device="cuda", threads=4, progress=True, overwrite=True,
                     eval_every=50, eval_episodes=10, checkpoint_every=7, keep_checkpoints=True, log_every=3,
                     compile=True, cuda_graphs=True)
    longer, wider = variant("longer", total_steps=400), variant("wider", num_envs=2)
    out = tmp_path / "report"
    assert main(["report", str(runs / "sac-s1"), str(runs / "sac-s2"), str(pooled), str(longer), str(wider),
                 "--out", str(out)]) == 0
    groups = json.loads((out / "summary.json").read_text())["tasks"]["Pendulum-v1"]["algorithms"]
    assert {label: g["seeds"] for label, g in groups.items()} == {
        "sac (num_envs=1, total_steps=200)": [1, 2, 3],
        "sac (num_envs=1, total_steps=400)": [2],
        "sac (num_envs=2, total_steps=200)": [2]}
    assert groups["sac (num_envs=1, total_steps=400)"]["config"] == {"num_envs": 1, "total_steps": 400}


def test_labels_name_only_the_differing_settings_compactly():
    runs = [("sac", {"actor_lr": 3e-4, "critic_lr": 3e-4, "gamma": 0.99, "hidden_sizes": [8, 8]}),
            ("sac", {"actor_lr": 1e-5, "critic_lr": 1e-5, "gamma": 0.99, "hidden_sizes": [8, 8]}),
            ("sac", {"actor_lr": 1e-5, "critic_lr": 1e-5, "gamma": 1.0, "hidden_sizes": [8, 8]}),
            ("sac", {"actor_lr": 1e-5, "critic_lr": 1e-5, "gamma": 1, "hidden_sizes": [8, 8]}),    # 1 == 1.0
            ("td3", {"tau": 0.005}), ("td3", {"tau": 0.005}),
            ("iql", {"expectile": 0.7}), ("iql", {"expectile": 0.7, "new_field": True})]     # older config.json
    assert [label for label, _ in config_labels(runs)] == [
        "sac (actor_lr=0.0003, critic_lr=0.0003, gamma=0.99)", "sac (actor_lr=1e-5, critic_lr=1e-5, gamma=0.99)",
        "sac (actor_lr=1e-5, critic_lr=1e-5, gamma=1)", "sac (actor_lr=1e-5, critic_lr=1e-5, gamma=1)",
        "td3", "td3", "iql (new_field=None)", "iql (new_field=True)"]
    assert config_labels(runs)[0][1] == {"actor_lr": 3e-4, "critic_lr": 3e-4, "gamma": 0.99}
    assert [format_setting(v) for v in (1e6, 1_000_000, 256, 2.5e-7, 0.1 + 0.2, [256, 256], "min", None)] == [
        "1e6", "1e6", "256", "2.5e-7", "0.30000000000000004", "[256,256]", "min", "None"]
    assert plots.run_settings({"algo": "sac", "algo_config": {"actor_lr": 1e-3},
                               "run": {"env": "Hopper-v5", "seed": 4, "total_steps": 10, "num_envs": 2,
                                       "run_dir": "x", "threads": 3}}) == {"actor_lr": 1e-3, "total_steps": 10,
                                                                           "num_envs": 2}


def test_offline_run_reports_its_normalized_score(tiny_dataset, tmp_path, capsys):
    dataset_id, _ = tiny_dataset(steps=100)
    run_dir = tmp_path / "bc"
    assert main(["train", "bc", "--dataset", dataset_id, "--total-steps", "20", "--eval-every", "20",
                 "--eval-episodes", "1", "--no-progress", "--device", "cpu", "--run-dir", str(run_dir)]) == 0
    assert main(["report", str(run_dir), "--out", str(tmp_path / "report")]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    task = summary["tasks"][f"dataset {dataset_id}"]
    assert task["score"] == "normalized score"
    assert task["algorithms"]["bc"]["scores"] == pytest.approx([_final(run_dir, "eval_normalized_mean")])


def test_aggregate_over_normalized_tasks_is_rliables(tmp_path, capsys):
    rng = np.random.default_rng(0)
    finals = {}
    for d, dataset in enumerate(["d4/hopper-v0", "d4/walker-v0"]):
        for algo in ("iql", "cql"):
            for seed in range(1, 5 if algo == "iql" else (4 if d == 0 else 3)):   # cql: 3 seeds, then 2
                scores = rng.uniform(0, 100, 3)
                _fake_run(tmp_path / "runs" / f"{algo}-{d}-{seed}", algo, dataset, seed, scores)
                finals.setdefault(algo, {}).setdefault(dataset, []).append(scores[-1])
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--reps", "500"]) == 0
    stdout, stderr = capsys.readouterr()
    agg = json.loads((tmp_path / "report" / "summary.json").read_text())["aggregate"]
    assert agg["tasks"] == ["dataset d4/hopper-v0", "dataset d4/walker-v0"]
    matrix = np.array([finals["iql"]["d4/hopper-v0"], finals["iql"]["d4/walker-v0"]]).T     # [4 seeds, 2 tasks]
    np.random.seed(SEED)
    point, ci = rly.get_interval_estimates({"iql": matrix}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=500)
    assert agg["algorithms"]["iql"]["iqm"] == pytest.approx(point["iql"][0])
    assert agg["algorithms"]["iql"]["iqm_ci"] == pytest.approx(list(ci["iql"][:, 0]))
    assert "cql" not in agg["algorithms"]                       # 3 seeds on one task, 2 on the other
    assert "no aggregate for cql" in stderr
    assert "| all 2 normalized tasks | normalized score | iql | 4 per task |" in stdout


def test_aggregate_is_per_configuration(tmp_path, capsys):
    """Two expectiles of IQL on two datasets: two groups per task, one aggregate row each."""
    rng = np.random.default_rng(1)
    for dataset in ("d4/hopper-v0", "d4/walker-v0"):
        for expectile in (0.7, 0.9):
            for seed in (1, 2, 3):
                _fake_run(tmp_path / "runs" / f"{dataset[3:]}-{expectile}-{seed}", "iql", dataset, seed,
                          rng.uniform(0, 100, 2), expectile=expectile, tau=0.005)
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--reps", "200"]) == 0
    stdout, _ = capsys.readouterr()
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    labels = ["iql (expectile=0.7)", "iql (expectile=0.9)"]
    assert list(summary["tasks"]["dataset d4/hopper-v0"]["algorithms"]) == labels
    assert list(summary["aggregate"]["algorithms"]) == labels
    assert summary["aggregate"]["algorithms"]["iql (expectile=0.9)"]["config"] == {"expectile": 0.9}
    assert "| all 2 normalized tasks | normalized score | iql (expectile=0.7) | 3 per task |" in stdout


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist; pass run folders"),
    ("empty", "is not a keelrl run folder (no config.json) and contains none"),
    ("foreign", "is not a keelrl run folder (its config.json is unreadable or has no algo/run)"),
    ("no-eval", "no evaluation results to report"),
    ("out-is-file", "is a file; pass a folder"),
    ("few-reps", "bootstrap repetitions must be >= 200"),
    ("mixed", "mix normalized scores and raw returns"),
])
def test_bad_input_is_one_clear_line_and_writes_nothing(tmp_path, capsys, case, message):
    run = tmp_path / "run"
    _fake_run(run, "iql", "d4/hopper-v0", 1, [50.0])
    out, args = tmp_path / "report", []
    if case == "missing":
        args = [str(tmp_path / "nope")]
    elif case == "empty":
        (tmp_path / "empty").mkdir()
        args = [str(tmp_path / "empty")]
    elif case == "foreign":
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "config.json").write_text('{"lr": 0.1}')
        args = [str(tmp_path / "other")]
    elif case == "no-eval":
        (run / "eval.csv").write_text("step,eval_return_mean,eval_return_std,wall_s\n")
        args = [str(run)]
    elif case == "out-is-file":
        out.write_text("x")
        args = [str(run)]
    elif case == "few-reps":
        args = [str(run), "--reps", "10"]
    elif case == "mixed":
        _fake_run(tmp_path / "raw", "iql", "d4/hopper-v0", 2, [50.0])
        (tmp_path / "raw" / "eval.csv").write_text("step,eval_return_mean,eval_return_std,wall_s\n10,5.0,0.0,1\n")
        args = [str(run), str(tmp_path / "raw")]
    assert main(["report", *args, "--out", str(out)]) == 1
    assert message in _one_error_line(capsys)
    assert out.is_file() if case == "out-is-file" else not out.exists()


def test_docs_page_names_real_functions():
    page = (Path(__file__).resolve().parents[2] / "docs" / "report.md").read_text()
    for module, names in [(statistics, ["iqm", "interval_estimates", "score_distribution", "seeded_numpy"]),
                          (report, ["write_report"]), (plots, ["run_settings", "config_labels"])]:
        for name in names:
            assert re.search(rf"\b{name}\b", page) and hasattr(module, name), name


def test_tasks_that_report_success_get_success_rate_rows(tmp_path, capsys):
    """Real MP-DQN runs on Platform: eval.csv has a success rate, `keel report` a success-rate row over
    seeds beside the returns, and `keel eval` prints the rate."""
    cfg = get_algo("mpdqn").config(q_hidden_sizes=(8,), param_hidden_sizes=(8,), batch_size=8, learning_starts=50)
    for seed in (1, 2, 3):
        run = RunConfig(env="keel/Platform-v0", seed=seed, total_steps=100, eval_every=100, eval_episodes=4,
                        progress=False, device="cpu", run_dir=str(tmp_path / "runs" / f"s{seed}"))
        train("mpdqn", run, cfg)
    rates = [float(list(csv.DictReader(open(tmp_path / "runs" / f"s{s}" / "eval.csv")))[-1]["eval_success_rate"])
             for s in (1, 2, 3)]
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "report")]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    entry = summary["tasks"]["keel/Platform-v0"]["algorithms"]["mpdqn"]
    assert entry["success_rate"]["rates"] == rates
    assert entry["success_rate"]["mean"] == pytest.approx(np.mean(rates))
    assert "| keel/Platform-v0 | success rate | mpdqn | 3 | 100 |" in (tmp_path / "report" / "table.md").read_text()
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "runs" / "s1"), "--episodes", "4"]) == 0
    assert re.search(r"success rate \d\.\d\d", capsys.readouterr().out)
