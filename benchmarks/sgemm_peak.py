"""This CPU's float32 matrix-product rate at the sizes of an RL update (the bound on any learner).

    .venv/bin/python benchmarks/sgemm_peak.py --threads 1 --rounds 5

Times torch.mm on [m, k] x [k, n] blocks (the 256-wide layers of a batch-256 update, and the
first layer's 23-wide input) and writes results/sgemm_<threads>t.json with GFLOP/s per round.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

SHAPES = [(256, 256, 256), (512, 256, 256), (256, 23, 256)]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=2000)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = {"threads": a.threads, "torch": torch.__version__, "gflops": {}}
    for m, k, n in SHAPES:
        x, w = torch.randn(m, k), torch.randn(k, n)
        rates = []
        for _ in range(a.rounds):
            for _ in range(50):
                x @ w
            t = time.perf_counter()
            for _ in range(a.reps):
                x @ w
            rates.append(round(2 * m * k * n * a.reps / (time.perf_counter() - t) / 1e9, 1))
        out["gflops"][f"{m}x{k}x{n}"] = {"rounds": rates, "median": statistics.median(rates)}
        print(f"{m}x{k}x{n}: median {statistics.median(rates)} GFLOP/s (rounds {rates})", flush=True)
    path = Path(__file__).resolve().parent / "results" / f"sgemm_{a.threads}t.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=2))
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
