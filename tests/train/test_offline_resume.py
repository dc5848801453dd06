"""Resume equality for every offline algorithm: stopped at an update, resumed, the run's CSVs and
every tensor and statistic of the agent equal those of the uninterrupted run; a run refuses to
resume on a dataset that changed."""
import pytest

from keelrl.algos import AWACConfig, BCConfig, CQLConfig, EDACConfig, IQLConfig, SACNConfig, TD3BCConfig
from keelrl.cli import main
from keelrl.errors import KeelError
from keelrl.train.checkpoint import read_checkpoint
from keelrl.train.config import OfflineRunConfig
from keelrl.train.dispatch import resume, train
from tests.train.test_resume import _numbers
from tests.train.test_resume_suite import _assert_same_state

TINY = dict(hidden_sizes=(8, 8), batch_size=16)

CASES = {
    "bc": BCConfig(**TINY, policy="gaussian"),
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


@pytest.mark.parametrize("algo", list(CASES))
def test_resumed_offline_run_equals_uninterrupted(tiny_dataset, tmp_path, algo):
    dataset_id, _ = tiny_dataset(steps=200)
    whole = train(algo, _run(tmp_path, dataset_id, "whole"), CASES[algo])
    part = train(algo, _run(tmp_path, dataset_id, "part"), CASES[algo], callback=lambda step: step >= 20)
    ckpt = read_checkpoint(part)
    assert ckpt["loop"]["step"] == 20 and ckpt["offline"] is True
    resume(part)
    for name in ("eval.csv", "metrics.csv"):
        rows = _numbers(whole / name)
        assert rows and rows == _numbers(part / name), name
    assert [r["step"] for r in _numbers(part / "eval.csv")] == ["10", "20", "30", "40"]
    a, b = read_checkpoint(whole), read_checkpoint(part)
    assert a["loop"]["step"] == b["loop"]["step"] == 40
    _assert_same_state(a["agent"], b["agent"])
    _assert_same_state(a["sampler"], b["sampler"], "sampler")
    _assert_same_state(a["rng"], b["rng"], "rng")


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
