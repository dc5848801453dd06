"""keelrl learner speed on synthetic data (no environment stepping is timed). Prints one JSON line.

    .venv/bin/python benchmarks/keel_speed.py --algo td3 --updates 300 --threads 1

Settings are the ones sb3_speed.py gives Stable-Baselines3 (each algorithm's defaults in keelrl):
  sac, td3, ddpg  HalfCheetah's sizes (obs 17, act 6), 256x256, batch 256, buffer of 10,000 random transitions
  dqn             CartPole's sizes (obs 4, 2 actions), 256x256, batch 64
  ppo             obs 17, act 6, 64x64, one rollout of 2048 random steps, 10 epochs of 32 minibatches of 64
"updates" are gradient steps: for ppo, minibatch steps (320 per rollout). The agents and data come
from keelrl.speed.bench.learner_setup, which `keel bench` times too.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from keelrl.speed.bench import learner_setup


def filled_setup(algo: str, batch_size: int = 256):
    """A default agent of `algo` and a replay buffer of 10,000 random transitions (keelrl.speed.bench)."""
    setup = learner_setup(algo, batch_size=batch_size)
    return setup.agent, setup.data


def ppo_setup():
    """A default PPO agent and a rollout of 2048 random steps (keelrl.speed.bench)."""
    setup = learner_setup("ppo")
    return setup.agent, setup.data


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
