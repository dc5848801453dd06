"""Stable-Baselines3 SAC evaluation curves: the peer baseline for keelrl's SAC.

Run inside the benchmark venv (pinned: stable-baselines3==2.9.2, torch==2.13.0,
gymnasium[mujoco]>=1.0,<2, mujoco>=3.1,<4):

    benchmarks/.venv-sb3/bin/python benchmarks/sb3_sac_returns.py \
        --env Pendulum-v1 --seed 1 --total-steps 15000 --learning-starts 1000 \
        --eval-every 1000 --out benchmarks/results/sac_returns/sb3/Pendulum-v1/seed1.csv

Every --eval-every env steps (and at the final step) the deterministic policy is
run for --eval-episodes full episodes on a separate eval env (first reset seeded
with seed + 10_000, later resets unseeded).  The CSV (step,eval_return_mean,
eval_return_std,wall_s) is rewritten atomically after each evaluation; training
episode returns go to <out minus .csv>_train.csv (step,episode_return).
"""

import argparse
import csv
import os
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import SAC
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
    """Evaluates every eval_every env steps and records training-episode returns."""

    def __init__(self, evaluator, eval_every):
        super().__init__()
        self.evaluator, self.eval_every = evaluator, eval_every
        self.train_rows = []

    def _on_step(self):
        for info in self.locals.get("infos", []):
            if "episode" in info:  # added by SB3's Monitor wrapper
                self.train_rows.append([self.num_timesteps, f"{info['episode']['r']:.4f}"])
        if self.num_timesteps % self.eval_every == 0:
            self.evaluator(self.model, self.num_timesteps)
        return True


def make_sac(env_id, seed, learning_starts):
    """keelrl's SAC defaults in SB3's terms."""
    return SAC(
        "MlpPolicy", gym.make(env_id),
        policy_kwargs=dict(net_arch=[256, 256]),
        learning_rate=3e-4, buffer_size=1_000_000, learning_starts=learning_starts,
        batch_size=256, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1,
        ent_coef="auto",  # learned, initial alpha 1.0
        target_entropy="auto",  # -|A|
        seed=seed, device="cpu", verbose=0,
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--total-steps", type=int, required=True)
    p.add_argument("--learning-starts", type=int, required=True)
    p.add_argument("--eval-every", type=int, required=True)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    torch.set_num_threads(1)
    model = make_sac(args.env, args.seed, args.learning_starts)
    evaluator = Evaluator(args.env, args.seed, args.eval_episodes, args.out)
    callback = EvalCallback(evaluator, args.eval_every)
    model.learn(total_timesteps=args.total_steps, callback=callback)
    if evaluator.last_step != model.num_timesteps:
        evaluator(model, model.num_timesteps)

    base = args.out[:-4] if args.out.endswith(".csv") else args.out
    write_csv(base + "_train.csv", ["step", "episode_return"], callback.train_rows)


if __name__ == "__main__":
    main()
