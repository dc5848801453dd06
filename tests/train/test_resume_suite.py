"""Resume equality for every algorithm of the online suite: stopped at a step, resumed, the run's
CSVs and every tensor and statistic of the agent equal those of the uninterrupted run."""
import numpy as np
import pytest
import torch

from keelrl.algos import DDPGConfig, DQNConfig, PPOConfig, TD3Config
from keelrl.train.checkpoint import read_checkpoint
from keelrl.train.config import RunConfig
from keelrl.train.dispatch import resume, train
from tests.train.test_resume import _numbers


def _assert_same_state(a, b, path="agent"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same_state(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_state(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), path
    else:
        assert a == b, path


CASES = {
    "td3": ("Pendulum-v1", 1, 400, 231, TD3Config(hidden_sizes=(16, 16), batch_size=32, learning_starts=100, buffer_size=5000)),
    "ddpg": ("InvertedPendulum-v5", 2, 400, 230, DDPGConfig(hidden_sizes=(16, 16), batch_size=32, learning_starts=100,
                                                           buffer_size=5000)),
    "dqn": ("CartPole-v1", 2, 600, 330, DQNConfig(hidden_sizes=(16, 16), batch_size=32, learning_starts=100, buffer_size=5000,
                                                  n_step=3, double_q=True, dueling=True, exploration_steps=300,
                                                  target_update_period=10)),
    "ppo": ("Pendulum-v1", 2, 768, 384, PPOConfig(hidden_sizes=(16, 16), rollout_steps=64, num_minibatches=4, epochs=2)),
    "ppo-discrete": ("CartPole-v1", 2, 768, 512, PPOConfig(hidden_sizes=(16, 16), rollout_steps=64, num_minibatches=4,
                                                           epochs=2)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_resumed_run_equals_uninterrupted(tmp_path, case):
    env, num_envs, total, stop_at, cfg = CASES[case]
    algo = case.split("-")[0]

    def run(name):
        return RunConfig(env=env, total_steps=total, num_envs=num_envs, eval_every=128, eval_episodes=1, log_every=64,
                         checkpoint_every=100_000, run_dir=str(tmp_path / name), progress=False, device="cpu", seed=5)

    whole = train(algo, run("whole"), cfg)
    part = train(algo, run("part"), cfg, callback=lambda step: step >= stop_at)
    stopped = read_checkpoint(part)["loop"]["step"]
    assert stop_at <= stopped < total
    resume(part)
    for name in ("eval.csv", "train.csv", "metrics.csv"):
        rows = _numbers(whole / name)
        assert rows and rows == _numbers(part / name), name
    _assert_same_state(read_checkpoint(whole)["agent"], read_checkpoint(part)["agent"])
