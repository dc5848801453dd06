"""Short runs of TD3, DDPG, DQN and PPO through the training loop on real environments, tiny networks;
the `keel` command's refusals of mismatched action spaces and its generated flags."""
import csv
import math
from dataclasses import fields

import gymnasium as gym
import numpy as np
import pytest

import keelrl
from keelrl.algos import DDPGConfig, DQNConfig, PPOConfig, TD3Config
from keelrl.cli import main
from keelrl.train.config import RunConfig
from keelrl.train.dispatch import train
from tests.cli_lines import err_line

OFF_POLICY = dict(hidden_sizes=(8, 8), batch_size=16, buffer_size=1000, learning_starts=100)
PPO_TINY = dict(hidden_sizes=(8, 8), rollout_steps=32, num_minibatches=2, epochs=2)

# name: (algo, env, num_envs, total steps, eval_every, config)
CASES = {
    "td3": ("td3", "Pendulum-v1", 1, 200, 100, TD3Config(**OFF_POLICY)),
    "ddpg": ("ddpg", "Pendulum-v1", 1, 200, 100, DDPGConfig(**OFF_POLICY)),
    "dqn": ("dqn", "CartPole-v1", 1, 300, 150, DQNConfig(**OFF_POLICY, update_every=50, target_update_period=10,
                                                         exploration_steps=200)),
    "dqn-double-dueling-3step": ("dqn", "CartPole-v1", 1, 300, 150,
                                 DQNConfig(**OFF_POLICY, update_every=1, target_update_period=10, exploration_steps=200,
                                           double_q=True, dueling=True, n_step=3, loss="mse", tau=0.5)),
    "dqn-acrobot": ("dqn", "Acrobot-v1", 1, 200, 0, DQNConfig(**OFF_POLICY, update_every=25, exploration_steps=100)),
    "ppo-continuous": ("ppo", "Pendulum-v1", 1, 128, 64, PPOConfig(**PPO_TINY)),
    "ppo-discrete": ("ppo", "CartPole-v1", 1, 128, 64, PPOConfig(**PPO_TINY, clip_value=0.2, ent_coef=0.01)),
    "ppo-mujoco-2-envs": ("ppo", "InvertedPendulum-v5", 2, 192, 0, PPOConfig(**PPO_TINY)),
}


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _assert_finite(rows, path):
    assert rows, f"{path} is empty"
    for row in rows:
        for k, v in row.items():
            assert math.isfinite(float(v)), f"{path}: {k} = {v}"


def _in_space(action: np.ndarray, space: gym.Space, n: int) -> bool:
    if isinstance(space, gym.spaces.Discrete):
        return (action.shape == (n,) and np.issubdtype(action.dtype, np.integer)
                and bool(((action >= 0) & (action < space.n)).all()))
    return action.shape == (n, *space.shape) and bool(((action >= space.low) & (action <= space.high)).all())


@pytest.mark.parametrize("case", list(CASES))
def test_short_run_writes_finite_logs_and_a_loadable_agent(tmp_path, case):
    algo, env_id, num_envs, total, eval_every, cfg = CASES[case]
    run = RunConfig(env=env_id, total_steps=total, num_envs=num_envs, eval_every=eval_every, eval_episodes=1,
                    log_every=50, checkpoint_every=10_000, run_dir=str(tmp_path / "run"), progress=False,
                    device="cpu", seed=3)
    run_dir = train(algo, run, cfg)
    for name in ("config.json", "eval.csv", "train.csv", "metrics.csv", "checkpoint.pt"):
        assert (run_dir / name).exists(), name
    evals, metrics = _rows(run_dir / "eval.csv"), _rows(run_dir / "metrics.csv")
    _assert_finite(evals, "eval.csv")
    _assert_finite([r for r in metrics if int(r["updates"]) > 0], "metrics.csv")   # blank before the first update
    assert int(evals[-1]["step"]) == total
    if eval_every:
        assert [int(r["step"]) for r in evals] == list(range(eval_every, total + 1, eval_every))
    agent = keelrl.load_agent(run_dir)
    assert agent.algo == algo
    assert int(metrics[-1]["updates"]) == agent.num_updates > 0
    if algo in ("td3", "ddpg"):
        assert agent.num_updates == total - cfg.learning_starts     # one update per step after the random start

    env = gym.make(env_id)
    obs = np.stack([env.reset(seed=s)[0] for s in range(4)])
    action = agent.act(obs, deterministic=True)
    assert _in_space(np.asarray(action), env.action_space, 4), action
    np.testing.assert_array_equal(agent.act(obs, deterministic=True), action)   # deterministic is deterministic
    env.close()


@pytest.mark.parametrize("algo, env_id, alternatives", [
    ("dqn", "Pendulum-v1", "SAC, TD3, DDPG or PPO"),
    ("td3", "CartPole-v1", "DQN or PPO"),
    ("ddpg", "Acrobot-v1", "DQN or PPO"),
])
def test_action_space_mismatch_is_one_line_naming_what_fits(tmp_path, capsys, algo, env_id, alternatives):
    run_dir = tmp_path / "never"
    assert main(["train", algo, "--env", env_id, "--run-dir", str(run_dir), "--no-progress"]) == 1
    err = err_line(capsys)
    assert algo.upper() in err and env_id in err and alternatives in err
    assert not run_dir.exists()


@pytest.mark.parametrize("algo, config, docstring", [
    ("ppo", PPOConfig, "Steps collected from each environment copy per iteration"),
    ("td3", TD3Config, "update the actor and the target networks once every d critic updates"),
    ("ddpg", DDPGConfig, "Polyak coefficient of the target networks"),
    ("dqn", DQNConfig, "Dueling head"),
])
def test_help_lists_every_config_field(capsys, algo, config, docstring):
    with pytest.raises(SystemExit):
        main(["train", algo, "--help"])
    out = capsys.readouterr().out
    for f in [*fields(config), *fields(RunConfig)]:
        if f.name != "seeds":   # --seeds stacks SAC only: the other algorithms have no such flag
            assert "--" + f.name.replace("_", "-") in out, f.name
    assert "--seeds" not in out
    assert docstring in " ".join(out.split())          # help comes from the field docstrings (rewrapped)


def test_ppo_one_sample_minibatches_fail_cleanly_or_train(tmp_path, capsys):
    code = main(["train", "ppo", "--env", "CartPole-v1", "--rollout-steps", "4", "--num-minibatches", "4",
                 "--total-steps", "8", "--hidden-sizes", "8", "8", "--eval-episodes", "1", "--no-progress",
                 "--device", "cpu", "--run-dir", str(tmp_path / "run")])
    assert code == 1
    assert "minibatches of 1 sample; they need at least 2" in err_line(capsys)
    assert not (tmp_path / "run").exists()      # refused before any folder is made
