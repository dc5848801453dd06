"""A run folder of keelrl 0.1 (tests/fixtures/keelrl_0_1_run: SAC on Pendulum stopped at step 80 of
100; its checkpoint pickles its environment): refused unless trusted; trusted, it evaluates, and
resumes to the numbers this keelrl computes for the run left alone, writing its next checkpoint in
the safe format."""
import shutil
from pathlib import Path

import pytest

from keelrl import RunConfig, load_agent, resume, train
from keelrl.algos.sac import SACConfig
from keelrl.state_file import UnsafeFile, read_state
from keelrl.train.run_folder import read_marker
from tests.algos.resume import assert_same_state, csv_numbers

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "keelrl_0_1_run"


def test_a_keelrl_0_1_run_needs_trust_then_resumes_exactly(tmp_path):
    run_dir = tmp_path / "old"
    shutil.copytree(FIXTURE, run_dir)
    with pytest.raises(UnsafeFile, match="needs code to load"):
        resume(run_dir)
    with pytest.raises(UnsafeFile):
        load_agent(run_dir)
    assert load_agent(run_dir, trust_pickle=True).num_updates > 0
    resume(run_dir, trust_pickle=True)
    assert set(read_state(run_dir / "checkpoint.pt")) >= {"keelrl", "agent", "envs"}   # now a safe file
    assert read_marker(run_dir)["finished"] is True
    whole = train("sac", RunConfig(env="Pendulum-v1", total_steps=100, eval_every=50, eval_episodes=1,
                                   checkpoint_every=10000, progress=False, device="cpu", seed=0,
                                   run_dir=str(tmp_path / "whole")),
                  SACConfig(hidden_sizes=(8, 8), learning_starts=50, buffer_size=1000, batch_size=16))
    for name in ("eval.csv", "train.csv", "metrics.csv"):
        assert csv_numbers(run_dir / name) == csv_numbers(whole / name), name
    assert_same_state(read_state(run_dir / "checkpoint.pt")["agent"], read_state(whole / "checkpoint.pt")["agent"])
