"""A run interrupted and resumed gives the same numbers as one left alone (same seed, CPU)."""
import csv
import json
import signal

import pytest
import torch

from keelrl.algos.sac import SACConfig
from keelrl.errors import KeelError
from keelrl.train.checkpoint import read_checkpoint
from keelrl.train.config import RunConfig
from keelrl.train.dispatch import resume, train
from keelrl.train.skeleton import RunInterrupted


def _cfg():
    return SACConfig(hidden_sizes=(16, 16), batch_size=32, learning_starts=100, buffer_size=5000)


def _run(tmp_path, name, env, num_envs):
    return RunConfig(env=env, total_steps=400, num_envs=num_envs, eval_every=100, eval_episodes=1, log_every=50,
                     checkpoint_every=10_000, run_dir=str(tmp_path / name), progress=False, device="cpu", seed=3)


def _numbers(path):
    """The CSV's rows without the wall-clock columns (wall_s, sps), which no two runs share."""
    with open(path) as f:
        return [{k: v for k, v in row.items() if k not in ("wall_s", "sps")} for row in csv.DictReader(f)]


def _same_run(a, b):
    for name in ("eval.csv", "train.csv", "metrics.csv"):
        rows = _numbers(a / name)
        assert rows and rows == _numbers(b / name), name
    sa, sb = read_checkpoint(a)["agent"], read_checkpoint(b)["agent"]
    for net in ("actor", "critic", "critic_target"):
        for k, v in sa[net].items():
            assert torch.equal(v, sb[net][k]), f"{net}.{k}"
    assert torch.equal(sa["log_alpha"], sb["log_alpha"])


@pytest.mark.parametrize("env, num_envs, stop_at", [("InvertedPendulum-v5", 2, 230)])   # Pendulum: tests/algos/test_sac.py
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, env, num_envs, stop_at):
    whole = train("sac", _run(tmp_path, "whole", env, num_envs), _cfg())
    part = train("sac", _run(tmp_path, "part", env, num_envs), _cfg(), callback=lambda step: step >= stop_at)
    assert read_checkpoint(part)["loop"]["step"] == stop_at
    resume(part)
    _same_run(whole, part)


def test_ctrl_c_saves_a_checkpoint_then_resume_matches(tmp_path):
    whole = train("sac", _run(tmp_path, "whole", "Pendulum-v1", 1), _cfg())

    def press_ctrl_c(step):
        if step == 180:
            signal.raise_signal(signal.SIGINT)   # the real handler: sets the flag, loop stops cleanly
        return False

    with pytest.raises(RunInterrupted, match="stopped at step 180; checkpoint saved") as stopped:
        train("sac", _run(tmp_path, "part", "Pendulum-v1", 1), _cfg(), callback=press_ctrl_c)
    assert stopped.value.signum == signal.SIGINT
    part = tmp_path / "part"
    assert read_checkpoint(part)["loop"]["step"] == 180
    resume(part)
    _same_run(whole, part)


def test_resume_can_extend_the_budget(tmp_path):
    run_dir = train("sac", _run(tmp_path, "r", "Pendulum-v1", 1), _cfg())
    with pytest.raises(KeelError, match="already at step 400 of 400; pass --total-steps N with N > 400"):
        resume(run_dir)
    resume(run_dir, total_steps=500)
    assert json.loads((run_dir / "config.json").read_text())["run"]["total_steps"] == 500
    assert read_checkpoint(run_dir)["loop"]["step"] == 500
    assert (run_dir / "eval.csv").read_text().strip().splitlines()[-1].startswith("500,")
