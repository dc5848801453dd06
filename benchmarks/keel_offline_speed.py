"""keelrl offline learner speed on synthetic data, the keelrl side of d3rlpy_speed.py. Prints one JSON line.

    .venv/bin/python benchmarks/keel_offline_speed.py --algo iql --updates 300 --threads 1

Same sizes as d3rlpy_speed.py: Hopper's spaces (obs 11, act 3), 10,000 random transitions, batch
256, each algorithm's keelrl defaults (the settings of the returns benchmark). The batch sampling
is timed with the update, as the offline loop runs them. The agent and the dataset come from
keelrl.speed.bench.learner_setup, which `keel bench` times too.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from keelrl.algos import ALGOS
from keelrl.speed.bench import learner_setup


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--algo", required=True, choices=[n for n, s in ALGOS.items() if s.uses_dataset])
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="Config overrides, e.g. num_critics=50")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    spec = ALGOS[a.algo]
    overrides = {k: type(getattr(spec.config, k, "")) (v) if not isinstance(getattr(spec.config, k, None), bool) else v == "True"
                 for k, v in (s.split("=", 1) for s in a.set)}
    setup = learner_setup(a.algo, overrides=overrides)  # Hopper's sizes, 10,000 random transitions, seed 0
    agent, data, cfg = setup.agent, setup.data, setup.agent.cfg
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
