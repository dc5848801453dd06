"""Resume equality, the check each tests/algos/test_<algo>.py runs for its algorithm: a run stopped
at a step (the way Ctrl-C stops it) and resumed writes the same CSVs, and ends with the same agent
(every tensor and statistic), as the run left alone."""
from __future__ import annotations

import csv

import numpy as np
import torch

from keelrl import OfflineRunConfig, RunConfig, resume, train
from keelrl.train.checkpoint import read_checkpoint


def csv_numbers(path):
    """The CSV's rows without the wall-clock columns (wall_s, sps), which no two runs share."""
    with open(path) as f:
        return [{k: v for k, v in row.items() if k not in ("wall_s", "sps")} for row in csv.DictReader(f)]


def assert_same_state(a, b, path="agent"):
    """Nested dicts, lists, tensors and arrays equal, leaf by leaf (the first difference is named)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same_state(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), path
    else:
        assert a == b, path


def assert_online_resume_equal(algo: str, cfg, tmp_path, env: str, num_envs: int, total: int, stop_at: int) -> None:
    def run(name):
        return RunConfig(env=env, total_steps=total, num_envs=num_envs, eval_every=128, eval_episodes=1, log_every=64,
                         checkpoint_every=100_000, run_dir=str(tmp_path / name), progress=False, device="cpu", seed=5)

    whole = train(algo, run("whole"), cfg)
    part = train(algo, run("part"), cfg, callback=lambda step: step >= stop_at)
    stopped = read_checkpoint(part)["loop"]["step"]
    assert stop_at <= stopped < total
    resume(part)
    for name in ("eval.csv", "train.csv", "metrics.csv"):
        rows = csv_numbers(whole / name)
        assert rows and rows == csv_numbers(part / name), name
    assert_same_state(read_checkpoint(whole)["agent"], read_checkpoint(part)["agent"])


def offline_run(dataset_id: str, run_dir, total: int = 40) -> OfflineRunConfig:
    return OfflineRunConfig(dataset=dataset_id, total_steps=total, eval_every=10, eval_episodes=1, log_every=5,
                            checkpoint_every=15, run_dir=str(run_dir), progress=False, device="cpu", seed=4)


def assert_offline_resume_equal(algo: str, cfg, tmp_path, dataset_id: str) -> None:
    whole = train(algo, offline_run(dataset_id, tmp_path / "whole"), cfg)
    part = train(algo, offline_run(dataset_id, tmp_path / "part"), cfg, callback=lambda step: step >= 20)
    ckpt = read_checkpoint(part)
    assert ckpt["loop"]["step"] == 20 and ckpt["offline"] is True
    resume(part)
    for name in ("eval.csv", "metrics.csv"):
        rows = csv_numbers(whole / name)
        assert rows and rows == csv_numbers(part / name), name
    assert [r["step"] for r in csv_numbers(part / "eval.csv")] == ["10", "20", "30", "40"]
    a, b = read_checkpoint(whole), read_checkpoint(part)
    assert a["loop"]["step"] == b["loop"]["step"] == 40
    assert_same_state(a["agent"], b["agent"])
    assert_same_state(a["sampler"], b["sampler"], "sampler")
    assert_same_state(a["rng"], b["rng"], "rng")
