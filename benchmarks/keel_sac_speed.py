"""keelrl SAC learner updates per second on a filled buffer (no environment stepping timed).

    .venv/bin/python benchmarks/keel_sac_speed.py --obs-dim 17 --act-dim 6 --updates 300 --threads 1

Same settings as benchmarks/sb3_sac_speed.py: 256x256 networks, batch 256, 2 critics, learned α,
10,000 random transitions. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from keelrl.algos.sac import SACAgent, SACConfig
from keelrl.data.replay import ReplayBuffer


def filled_setup(obs_dim: int, act_dim: int, batch_size: int = 256) -> tuple[SACAgent, ReplayBuffer]:
    """A default SAC agent and a buffer of 10,000 random transitions (the speed scripts' setting)."""
    torch.manual_seed(0)
    agent = SACAgent(SACConfig(batch_size=batch_size), obs_dim, act_dim, -np.ones(act_dim), np.ones(act_dim))
    buf = ReplayBuffer(10_000, obs_dim, act_dim)
    rng = np.random.default_rng(0)
    buf.add(rng.normal(size=(10_000, obs_dim)), rng.uniform(-1, 1, (10_000, act_dim)), rng.normal(size=10_000),
            rng.normal(size=(10_000, obs_dim)), np.zeros(10_000))
    return agent, buf


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--obs-dim", type=int, default=17)
    p.add_argument("--act-dim", type=int, default=6)
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=256)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    agent, buf = filled_setup(a.obs_dim, a.act_dim, a.batch_size)
    for _ in range(a.warmup):
        agent.update(buf.sample(a.batch_size))
    t = time.perf_counter()
    for _ in range(a.updates):
        info = agent.update(buf.sample(a.batch_size))
    float(info["loss_q"])  # one sync at the end
    ups = a.updates / (time.perf_counter() - t)
    print(json.dumps({"lib": "keelrl", "updates_per_s": round(ups, 2), "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
