"""Stable-Baselines3 SAC learner throughput (updates/s) on a filled replay buffer.

Run inside the benchmark venv (pinned: stable-baselines3==2.9.2, torch==2.13.0):

    OMP_NUM_THREADS=1 benchmarks/.venv-sb3/bin/python benchmarks/sb3_sac_speed.py \
        --obs-dim 17 --act-dim 6 --updates 300 --threads 1

No environment is stepped in the timed part: the replay buffer is filled with
10_000 random transitions, one warmup ``model.train`` call is made, then
``model.train(gradient_steps=updates, batch_size=256)`` is timed.  Network and
hyperparameters match benchmarks/sb3_sac_returns.py.  Prints one JSON line.
"""

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import stable_baselines3
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.logger import configure

FILL = 10_000


class BoxEnv(gym.Env):
    """Dummy env that only supplies Box spaces; never stepped in the timed part."""

    def __init__(self, obs_dim, act_dim):
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(self.observation_space.shape, np.float32), {}

    def step(self, action):
        return np.zeros(self.observation_space.shape, np.float32), 0.0, False, False, {}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--obs-dim", type=int, default=17)
    p.add_argument("--act-dim", type=int, default=6)
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=256)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    model = SAC(
        "MlpPolicy", BoxEnv(args.obs_dim, args.act_dim),
        policy_kwargs=dict(net_arch=[256, 256]),
        learning_rate=3e-4, buffer_size=1_000_000, learning_starts=0,
        batch_size=args.batch_size, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1,
        ent_coef="auto", target_entropy="auto", seed=0, device="cpu", verbose=0,
    )
    model.set_logger(configure(None, []))

    rng = np.random.default_rng(0)
    for _ in range(FILL):
        obs = rng.standard_normal((1, args.obs_dim)).astype(np.float32)
        next_obs = rng.standard_normal((1, args.obs_dim)).astype(np.float32)
        action = rng.uniform(-1.0, 1.0, (1, args.act_dim)).astype(np.float32)
        reward = rng.standard_normal(1).astype(np.float32)
        done = (rng.random(1) < 0.01).astype(np.float32)
        model.replay_buffer.add(obs, next_obs, action, reward, done, [{}])

    model.train(gradient_steps=args.warmup, batch_size=args.batch_size)
    t0 = time.perf_counter()
    model.train(gradient_steps=args.updates, batch_size=args.batch_size)
    elapsed = time.perf_counter() - t0

    print(json.dumps({
        "lib": "sb3",
        "updates_per_s": round(args.updates / elapsed, 2),
        "threads": args.threads,
        "torch": torch.__version__,
        "sb3": stable_baselines3.__version__,
    }))


if __name__ == "__main__":
    main()
