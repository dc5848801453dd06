"""Evaluation and CSV writing for the Stable-Baselines3 side of the returns benchmarks (sb3_returns.py).

The benchmark venv is made with (pinned): torch==2.13.0 first, then stable-baselines3==2.9.2,
gymnasium[mujoco]>=1.0,<2, mujoco>=3.1,<4, in benchmarks/.venv-sb3 (git-ignored).

Every --eval-every env steps (and at the final step) the deterministic policy is
run for --eval-episodes full episodes on a separate eval env (first reset seeded
with seed + 10_000, later resets unseeded).  The CSV (step,eval_return_mean,
eval_return_std,wall_s) is rewritten atomically after each evaluation; training
episode returns go to <out minus .csv>_train.csv (step,episode_return).
"""

import csv
import os
import time

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback


def write_csv(path, header, rows):
    """Write rows to path atomically (tmp file + os.replace)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)


class Evaluator:
    """Deterministic evaluation on a separate env; keeps the curve and writes the CSV."""

    def __init__(self, env_id, seed, episodes, out):
        self.env = gym.make(env_id)
        self.first_seed = seed + 10_000
        self.episodes, self.out = episodes, out
        self.rows, self.last_step = [], None
        self.t0 = time.perf_counter()

    def __call__(self, model, step):
        returns = []
        for _ in range(self.episodes):
            obs, _ = self.env.reset(seed=self.first_seed)
            self.first_seed = None  # only the very first reset is seeded
            done, total = False, 0.0
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, _ = self.env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        wall = time.perf_counter() - self.t0
        self.rows.append([step, f"{np.mean(returns):.4f}", f"{np.std(returns):.4f}", f"{wall:.2f}"])
        self.last_step = step
        write_csv(self.out, ["step", "eval_return_mean", "eval_return_std", "wall_s"], self.rows)
        print(f"step={step} eval_return_mean={np.mean(returns):.2f} "
              f"std={np.std(returns):.2f} wall_s={wall:.1f}", flush=True)


class EvalCallback(BaseCallback):
    """Evaluates `policy` (anything with .predict(obs, deterministic)) every eval_every env steps and
    records training-episode returns."""

    def __init__(self, evaluator, eval_every, policy):
        super().__init__()
        self.evaluator, self.eval_every, self.policy = evaluator, eval_every, policy
        self.train_rows = []

    def _on_step(self):
        for info in self.locals.get("infos", []):
            if "episode" in info:  # added by SB3's Monitor wrapper
                self.train_rows.append([self.num_timesteps, f"{info['episode']['r']:.4f}"])
        if self.num_timesteps % self.eval_every == 0:
            self.evaluator(self.policy, self.num_timesteps)
        return True
