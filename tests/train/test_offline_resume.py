"""Offline resume through the CLI, and a run that refuses to resume on a dataset that changed (each
algorithm's own resume equality is in its tests/algos/test_<algo>.py)."""
import pytest

from keelrl.algos import AWACConfig, BCConfig, CQLConfig, EDACConfig, IQLConfig, SACNConfig, TD3BCConfig
from keelrl.cli import main
from keelrl.errors import KeelError
from keelrl.train.checkpoint import read_checkpoint
from keelrl.train.config import OfflineRunConfig
from keelrl.train.dispatch import resume, train
from tests.train.test_resume import _numbers
from tests.algos.resume import assert_same_state as _assert_same_state

TINY = dict(hidden_sizes=(8, 8), batch_size=16)

CASES = {
    "bc": BCConfig(**TINY, actor="gaussian"),
    "td3_bc": TD3BCConfig(**TINY),                                    # target noise, delayed actor
    "cql": CQLConfig(**TINY, cql_n_actions=2, lagrange=True, target_action_gap=1.0),   # α' and its optimizer
    "iql": IQLConfig(**TINY, lr_decay_steps=40),                      # the actor's cosine schedule
    "awac": AWACConfig(**TINY),
    "sac_n": SACNConfig(**TINY, num_critics=3),
    "edac": EDACConfig(**TINY, num_critics=3),
}


def _run(tmp_path, dataset_id, name, total=40):
    return OfflineRunConfig(dataset=dataset_id, total_steps=total, eval_every=10, eval_episodes=1, log_every=5,
                            checkpoint_every=15, run_dir=str(tmp_path / name), progress=False, device="cpu", seed=4)


def test_resume_through_the_cli(tiny_dataset, tmp_path):
    dataset_id, _ = tiny_dataset(steps=200)
    whole = train("iql", _run(tmp_path, dataset_id, "whole", 30), CASES["iql"])
    part = train("iql", _run(tmp_path, dataset_id, "part", 30), CASES["iql"], callback=lambda step: step >= 12)
    assert main(["train", "--resume", str(part), "--no-progress"]) == 0
    assert _numbers(whole / "metrics.csv") == _numbers(part / "metrics.csv")
    _assert_same_state(read_checkpoint(whole)["agent"], read_checkpoint(part)["agent"])


def test_resume_can_extend_the_budget(tiny_dataset, tmp_path):
    import json
    dataset_id, _ = tiny_dataset(steps=200)
    whole = train("awac", _run(tmp_path, dataset_id, "whole", 40), CASES["awac"])
    short = train("awac", _run(tmp_path, dataset_id, "short", 30), CASES["awac"])
    with pytest.raises(KeelError, match="already at step 30 of 30; pass --total-steps N with N > 30"):
        resume(short)
    resume(short, total_steps=40)
    assert json.loads((short / "config.json").read_text())["run"]["total_steps"] == 40
    for name in ("eval.csv", "metrics.csv"):
        assert _numbers(whole / name) == _numbers(short / name), name
    _assert_same_state(read_checkpoint(whole)["agent"], read_checkpoint(short)["agent"])


def test_resume_refuses_a_changed_dataset(tiny_dataset, tmp_path, capsys):
    dataset_id, _ = tiny_dataset(steps=200, seed=0)
    part = train("td3_bc", _run(tmp_path, dataset_id, "part"), CASES["td3_bc"], callback=lambda step: step >= 20)
    metrics_before = (part / "metrics.csv").read_text()
    tiny_dataset(steps=200, seed=1, overwrite=True)                   # same id, other transitions
    with pytest.raises(KeelError, match=f"dataset {dataset_id} has changed since this run started"):
        resume(part)
    capsys.readouterr()
    assert main(["train", "--resume", str(part), "--no-progress"]) == 1
    assert "has changed" in capsys.readouterr().err
    assert read_checkpoint(part)["loop"]["step"] == 20                # the run is left as it was
    assert (part / "metrics.csv").read_text() == metrics_before


def test_resume_with_the_dataset_gone_names_it(tiny_dataset, minari_root, tmp_path):
    import shutil
    dataset_id, _ = tiny_dataset(steps=200)
    part = train("bc", _run(tmp_path, dataset_id, "part"), CASES["bc"], callback=lambda step: step >= 20)
    shutil.rmtree(minari_root / dataset_id)
    with pytest.raises(KeelError, match=f"no Minari dataset '{dataset_id}'"):
        resume(part)


def test_resume_refuses_a_dataset_with_the_same_rewards_but_other_observations(tiny_dataset, tmp_path):
    import dataclasses

    from keelrl.data.offline import write_minari
    dataset_id, episodes = tiny_dataset(steps=200)
    part = train("bc", _run(tmp_path, dataset_id, "part"), CASES["bc"], callback=lambda step: step >= 20)
    moved = [dataclasses.replace(e, observations=e.observations + 0.5, actions=-e.actions) for e in episodes]
    write_minari(dataset_id, moved, "InvertedPendulum-v5", 0.0, 100.0, "uniform random", "changed", overwrite=True)
    with pytest.raises(KeelError, match="has changed"):
        resume(part)
