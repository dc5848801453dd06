"""MP-DQN: P-DQN with the multi-pass Q-network (its losses: tests/algos/test_pdqn.py; the network:
tests/nn/test_parameterized.py), on the hybrid probes and Platform, and resume equality."""
import pytest

from keelrl.algos import get_algo
from tests.algos import probes as P
from tests.algos.test_pdqn import CFG, STEPS


def test_mpdqn_is_pdqn_with_multiple_passes():
    cfg = get_algo("mpdqn").config()
    assert cfg.multi_pass and not get_algo("pdqn").config().multi_pass


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    agent = P.run_online("mpdqn", probe, CFG, STEPS, tmp_path, hybrid=True)
    assert agent.q.masks is not None and agent.algo == "mpdqn"
    P.check_hybrid_actions(agent, probe)


def test_probe_values(tmp_path):
    P.check_hybrid_values(P.run_online("mpdqn", "ProbeTwoStep", CFG, STEPS, tmp_path, hybrid=True), "ProbeTwoStep")


def test_platform_run_reports_success(tmp_path):
    """A short Platform run through the CLI's library entry: eval.csv gets the success rate column."""
    import csv

    from keelrl import RunConfig, train
    run = RunConfig(env="keel/Platform-v0", total_steps=400, eval_every=200, eval_episodes=3, progress=False,
                    run_dir=str(tmp_path / "run"), device="cpu")
    out = train("mpdqn", run, get_algo("mpdqn").config(**{**CFG, "learning_starts": 100}))
    rows = list(csv.DictReader(open(out / "eval.csv")))
    assert [r["step"] for r in rows] == ["200", "400"]
    assert all(0.0 <= float(r["eval_success_rate"]) <= 1.0 for r in rows)


def test_resumed_run_equals_uninterrupted(tmp_path):
    from keelrl.algos.mpdqn import MPDQNConfig
    from tests.algos.resume import assert_online_resume_equal
    assert_online_resume_equal("mpdqn", MPDQNConfig(**{**CFG, "learning_starts": 60}), tmp_path, "keel/Platform-v0", 1, 250, 140)
