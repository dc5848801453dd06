"""keelrl offline learner speed on synthetic data, the keelrl side of d3rlpy_speed.py. Prints one JSON line.

    .venv/bin/python benchmarks/keel_offline_speed.py --algo iql --updates 300 --threads 1

Same sizes as d3rlpy_speed.py: Hopper's spaces (obs 11, act 3), 10,000 random transitions, batch
256, each algorithm's keelrl defaults (the settings of the returns benchmark). The batch sampling
is timed with the update, as the offline loop runs them.
"""
from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import torch

from keelrl.algos import ALGOS
from keelrl.data.offline import OfflineDataset

FILL, OBS, ACT = 10_000, 11, 3


def synthetic_dataset(device: str = "cpu") -> OfflineDataset:
    rng = np.random.default_rng(0)
    t = lambda x: torch.as_tensor(np.asarray(x, np.float32), device=device)  # noqa: E731
    data = OfflineDataset("synthetic", t(rng.normal(size=(FILL, OBS))), t(rng.uniform(-1, 1, (FILL, ACT))),
                          t(rng.normal(size=FILL)), t(rng.normal(size=(FILL, OBS))), t(rng.random(FILL) < 0.01),
                          rng.normal(size=100), gym.spaces.Box(-np.inf, np.inf, (OBS,)), gym.spaces.Box(-1, 1, (ACT,)))
    data.seed(0)
    return data


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--algo", required=True, choices=[n for n, s in ALGOS.items() if s.loop == "offline"])
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="Config overrides, e.g. num_critics=50")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    spec = ALGOS[a.algo]
    overrides = {k: type(getattr(spec.config, k, "")) (v) if not isinstance(getattr(spec.config, k, None), bool) else v == "True"
                 for k, v in (s.split("=", 1) for s in a.set)}
    cfg = spec.config(**overrides)
    agent = spec.agent(cfg, OBS, ACT, -np.ones(ACT, np.float32), np.ones(ACT, np.float32), "cpu")
    data = synthetic_dataset()
    for _ in range(a.warmup):
        agent.update(data.sample(cfg.batch_size))
    t = time.perf_counter()
    for _ in range(a.updates):
        info = agent.update(data.sample(cfg.batch_size))
    float(next(iter(info.values())))
    ups = a.updates / (time.perf_counter() - t)
    print(json.dumps({"updates_per_s": round(ups, 2), "algo": a.algo, "threads": a.threads, "batch_size": cfg.batch_size,
                      "config": {k: v for k, v in overrides.items()}, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
