"""PPO on the probe environments (tests/algos/probes.py): every probe, continuous and discrete, through
the real loop, its learned state values V(s) and deterministic actions against the known answers.
Its losses by hand: test_online_losses.py; its resume equality: tests/train/test_resume_suite.py.
"""
import csv

import pytest

import keelrl

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), lr=3e-3, rollout_steps=64, num_minibatches=2, epochs=4, normalize_obs=False,
           normalize_reward=False, anneal_lr=False, log_std_init=-1.0)
"""No observation or reward normalization, so that V is in the probes' units; σ starts at e^-1 so that
clipping at the action bounds does not bias the mean in a short run."""
STEPS = 1500


@pytest.mark.parametrize("discrete", [False, True], ids=["box", "discrete"])
@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, discrete, tmp_path):
    agent = P.run_online("ppo", probe, CFG, STEPS, tmp_path, discrete=discrete)
    P.check_values(agent, probe, discrete, state_value=True)


@pytest.mark.parametrize("discrete", [False, True], ids=["box", "discrete"])
@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, discrete, tmp_path):
    P.check_actions(P.run_online("ppo", probe, CFG, STEPS, tmp_path, discrete=discrete), probe, discrete)


def test_learning_rate_anneals_from_full_to_one_nth(tmp_path):
    """lr_k = lr · (1 - k/N) for iterations k = 0..N-1: the first update uses the full rate, the last
    lr/N (not 0, which an annealing fraction computed after the rollout gave)."""
    run = keelrl.RunConfig(env="CartPole-v1", total_steps=192, eval_every=0, eval_episodes=0, log_every=64,
                           run_dir=str(tmp_path / "r"), progress=False, device="cpu")
    run_dir = keelrl.train("ppo", run, keelrl.algos.PPOConfig(hidden_sizes=(8,), rollout_steps=64, num_minibatches=2,
                                                               epochs=1, lr=3e-3))
    with open(run_dir / "metrics.csv") as f:
        lrs = [float(row["lr"]) for row in csv.DictReader(f)]
    assert lrs == pytest.approx([3e-3, 2e-3, 1e-3])
