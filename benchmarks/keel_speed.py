"""keelrl learner speed on synthetic data (no environment stepping is timed). Prints one JSON line.

    .venv/bin/python benchmarks/keel_speed.py --algo td3 --updates 300 --threads 1

Settings are the ones sb3_speed.py gives Stable-Baselines3 (each algorithm's defaults in keelrl):
  sac, td3, ddpg  HalfCheetah's sizes (obs 17, act 6), 256x256, batch 256, buffer of 10,000 random transitions
  dqn             CartPole's sizes (obs 4, 2 actions), 256x256, batch 64
  ppo             obs 17, act 6, 64x64, one rollout of 2048 random steps, 10 epochs of 32 minibatches of 64
"updates" are gradient steps: for ppo, minibatch steps (320 per rollout).
"""
from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import torch

from keelrl.algos import DDPGAgent, DDPGConfig, DQNAgent, DQNConfig, PPOAgent, PPOConfig, SACAgent, SACConfig, TD3Agent, TD3Config
from keelrl.data.replay import ReplayBuffer
from keelrl.data.rollout import RolloutBuffer

FILL = 10_000
CONTINUOUS = {"sac": (SACAgent, SACConfig), "td3": (TD3Agent, TD3Config), "ddpg": (DDPGAgent, DDPGConfig)}


def filled_setup(algo: str, obs_dim: int = 17, act_dim: int = 6, batch_size: int = 256):
    """A default agent of `algo` and a replay buffer of 10,000 random transitions."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if algo == "dqn":
        obs_dim, n_actions = 4, 2
        agent = DQNAgent(DQNConfig(batch_size=batch_size), obs_dim, n_actions)
        buf = ReplayBuffer(FILL, obs_dim, None)
        actions = rng.integers(0, n_actions, FILL)
    else:
        agent_cls, cfg_cls = CONTINUOUS[algo]
        agent = agent_cls(cfg_cls(batch_size=batch_size), obs_dim, act_dim, -np.ones(act_dim), np.ones(act_dim))
        buf = ReplayBuffer(FILL, obs_dim, act_dim)
        actions = rng.uniform(-1, 1, (FILL, act_dim))
    buf.add(rng.normal(size=(FILL, obs_dim)), actions, rng.normal(size=FILL), rng.normal(size=(FILL, obs_dim)),
            (rng.random(FILL) < 0.01).astype(np.float32))
    return agent, buf


def ppo_setup(obs_dim: int = 17, act_dim: int = 6, steps: int = 2048):
    torch.manual_seed(0)
    agent = PPOAgent(PPOConfig(), obs_dim, gym.spaces.Box(-1, 1, (act_dim,), np.float32))
    roll = RolloutBuffer(steps, 1, obs_dim, act_dim, "cpu")
    rng = np.random.default_rng(0)
    for _ in range(steps):
        obs = torch.as_tensor(rng.normal(size=(1, obs_dim)), dtype=torch.float32)
        action, log_prob, value = agent.sample(obs)
        done = rng.random(1) < 0.001
        roll.add(obs, action, log_prob, value, rng.normal(size=1), rng.normal(size=(1, obs_dim)), done, done)
    return agent, roll


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--algo", required=True, choices=["sac", "td3", "ddpg", "dqn", "ppo"])
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.algo == "ppo":
        agent, roll = ppo_setup()
        agent.update(roll, 1.0)  # warm-up rollout
        per_rollout = agent.num_updates
        rollouts = max(1, round(a.updates / per_rollout))
        t = time.perf_counter()
        for _ in range(rollouts):
            info = agent.update(roll, 1.0)
        float(info["loss_pi"])
        ups = rollouts * per_rollout / (time.perf_counter() - t)
    else:
        batch = 64 if a.algo == "dqn" else 256
        agent, buf = filled_setup(a.algo, batch_size=batch)
        for _ in range(a.warmup):
            agent.update(buf.sample(batch))
        t = time.perf_counter()
        for _ in range(a.updates):
            info = agent.update(buf.sample(batch))
        float(info["loss_q"])  # one sync at the end
        ups = a.updates / (time.perf_counter() - t)
    print(json.dumps({"lib": "keelrl", "algo": a.algo, "updates_per_s": round(ups, 2), "threads": a.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
