"""Stable-Baselines3 learner speed on synthetic data, the peer side of keel_speed.py. Prints one JSON line.

Run inside the benchmark venv (stable-baselines3==2.9.2, torch==2.13.0; see sb3_eval.py):

    OMP_NUM_THREADS=1 benchmarks/.venv-sb3/bin/python benchmarks/sb3_speed.py --algo td3 --updates 300 --threads 1

Same sizes and settings as keel_speed.py (and as the returns benchmark, sb3_returns.py). The replay
buffer is filled with 10,000 random transitions (PPO: one rollout of 2048 random steps with
returns and advantages computed), one warm-up call is made, then `model.train(...)` is timed.
"""

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import stable_baselines3
import torch
from stable_baselines3.common.logger import configure

from sb3_returns import build

FILL = 10_000


class SpacesEnv(gym.Env):
    """Supplies the spaces only; never stepped in the timed part."""

    def __init__(self, obs_dim, action_space):
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.action_space = action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(self.observation_space.shape, np.float32), {}

    def step(self, action):
        return np.zeros(self.observation_space.shape, np.float32), 0.0, False, False, {}


def make_model(algo):
    box = gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
    gym.register(id="KeelSpeedBox-v0", entry_point=lambda: SpacesEnv(17, box))
    gym.register(id="KeelSpeedDiscrete-v0", entry_point=lambda: SpacesEnv(4, gym.spaces.Discrete(2)))
    env_id = "KeelSpeedDiscrete-v0" if algo == "dqn" else "KeelSpeedBox-v0"
    model, _ = build(algo, env_id, 0, 0)  # sac, td3, ddpg, dqn, ppo: the returns benchmark's settings
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algo", required=True, choices=["sac", "td3", "ddpg", "dqn", "ppo"])
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import sb3_returns
    sb3_returns.TOTAL[0] = 100_000
    model = make_model(args.algo)
    model.set_logger(configure(None, []))
    rng = np.random.default_rng(0)
    if args.algo == "ppo":
        buf = model.rollout_buffer
        buf.reset()
        obs_dim = model.observation_space.shape[0]
        for _ in range(buf.buffer_size):
            obs = torch.as_tensor(rng.standard_normal((1, obs_dim)), dtype=torch.float32)
            with torch.no_grad():
                action, value, log_prob = model.policy(obs)
            buf.add(obs.numpy(), action.numpy(), rng.standard_normal(1).astype(np.float32),
                    np.array([rng.random() < 0.001]), value, log_prob)
        buf.compute_returns_and_advantage(last_values=value, dones=np.zeros(1))
        model._n_updates = 0
        model.train()                       # warm-up rollout: 10 epochs x 32 minibatches
        per_rollout = model.n_epochs * (buf.buffer_size // model.batch_size)
        rollouts = max(1, round(args.updates / per_rollout))
        t0 = time.perf_counter()
        for _ in range(rollouts):
            model.train()
        ups = rollouts * per_rollout / (time.perf_counter() - t0)
    else:
        obs_dim = model.observation_space.shape[0]
        discrete = args.algo == "dqn"
        for _ in range(FILL):
            action = (rng.integers(0, 2, (1,)) if discrete
                      else rng.uniform(-1.0, 1.0, (1, model.action_space.shape[0])).astype(np.float32))
            model.replay_buffer.add(rng.standard_normal((1, obs_dim)).astype(np.float32),
                                    rng.standard_normal((1, obs_dim)).astype(np.float32), action,
                                    rng.standard_normal(1).astype(np.float32),
                                    (rng.random(1) < 0.01).astype(np.float32), [{}])
        model.train(gradient_steps=args.warmup, batch_size=model.batch_size)
        t0 = time.perf_counter()
        model.train(gradient_steps=args.updates, batch_size=model.batch_size)
        ups = args.updates / (time.perf_counter() - t0)
    print(json.dumps({"lib": "sb3", "algo": args.algo, "updates_per_s": round(ups, 2), "threads": args.threads,
                      "torch": torch.__version__, "sb3": stable_baselines3.__version__}))


if __name__ == "__main__":
    main()
