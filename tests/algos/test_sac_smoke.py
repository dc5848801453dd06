"""Short runs of SAC with every backup and gradient option on real environments, tiny networks."""
import csv
import math

import pytest

from keelrl.algos.sac import SACConfig
from keelrl.train.config import RunConfig
from keelrl.train.dispatch import train


def tiny_sac(**kw) -> SACConfig:
    base = dict(hidden_sizes=(8, 8), batch_size=32, buffer_size=10_000, learning_starts=100)
    return SACConfig(**{**base, **kw})


def tiny_run(tmp_path, env="Pendulum-v1", total=300, **kw) -> RunConfig:
    base = dict(env=env, total_steps=total, eval_every=150, eval_episodes=1, log_every=100,
                checkpoint_every=10_000, run_dir=str(tmp_path / "run"), progress=False, device="cpu")
    return RunConfig(**{**base, **kw})


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("backup, num_critics", [("min", 2), ("mean", 2), ("doubleq", 2), ("single", 1), ("redq", 4)])
@pytest.mark.parametrize("gradient", ["reparametrize", "reinforce"])
def test_every_backup_and_gradient_trains(tmp_path, backup, num_critics, gradient):
    cfg = tiny_sac(backup=backup, num_critics=num_critics, actor_gradient=gradient, num_actor_samples=2,
                   redq_subset=2)
    run_dir = train("sac", tiny_run(tmp_path), cfg)
    metrics = _rows(run_dir / "metrics.csv")
    assert metrics and int(metrics[-1]["updates"]) == 200      # (300 - 100 learning starts) x UTD 1
    assert all(math.isfinite(float(metrics[-1][k])) for k in ("loss_q", "loss_pi", "alpha"))
    assert [int(r["step"]) for r in _rows(run_dir / "eval.csv")] == [150, 300]
    for name in ("config.json", "train.csv", "checkpoint.pt", "learning_curve.png"):
        assert (run_dir / name).exists(), name
    assert any((run_dir / "tb").iterdir())


def test_fixed_temperature_hard_targets_and_utd(tmp_path):
    cfg = tiny_sac(learn_alpha=False, alpha=0.05, target_update="hard", target_update_period=10,
                   updates_per_step=2, backup_entropy=False)
    run_dir = train("sac", tiny_run(tmp_path, total=200), cfg)
    last = _rows(run_dir / "metrics.csv")[-1]
    assert int(last["updates"]) == 200 and float(last["alpha"]) == pytest.approx(0.05)


def test_mujoco_env_with_vector_envs(tmp_path):
    run_dir = train("sac", tiny_run(tmp_path, env="InvertedPendulum-v5", total=240, num_envs=2), tiny_sac())
    rows = _rows(run_dir / "train.csv")
    assert rows, "InvertedPendulum episodes end quickly under random actions"
    assert _rows(run_dir / "eval.csv")[-1]["step"] == "240"
