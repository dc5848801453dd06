"""Where keelrl's SAC update spends its time, and what torch.compile of the whole update does.

    .venv/bin/python benchmarks/profile_sac_update.py [--compile]

Same setting as keel_speed.py --algo sac (obs 17, act 6, 256x256, batch 256, 1 thread). Prints the share
of CPU time in matrix products (bmm, baddbmm, mm, addmm) from torch.profiler, and the
updates/s of the eager update and, with --compile, of torch.compile(agent.update).
"""
from __future__ import annotations

import argparse
import json
import time

import torch
from keel_speed import filled_setup  # same folder: run as `python benchmarks/profile_sac_update.py`
from torch.profiler import ProfilerActivity, profile

MATMULS = {"aten::bmm", "aten::baddbmm", "aten::mm", "aten::addmm"}


def rate(update, buf, n: int) -> float:
    for _ in range(10):
        update(buf.sample(256))
    t = time.perf_counter()
    for _ in range(n):
        info = update(buf.sample(256))
    float(info["loss_q"])
    return n / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--compile", action="store_true")
    p.add_argument("--updates", type=int, default=200)
    a = p.parse_args()
    torch.set_num_threads(1)
    agent, buf = filled_setup("sac")
    out = {"eager_updates_per_s": round(rate(agent.update, buf, a.updates), 1)}
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(50):
            agent.update(buf.sample(256))
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in events)
    out["matmul_share_of_op_time"] = round(sum(e.self_cpu_time_total for e in events if e.key in MATMULS) / total, 3)
    if a.compile:
        t = time.perf_counter()
        out["compiled_updates_per_s"] = round(rate(torch.compile(agent.update), buf, a.updates), 1)
        out["compile_and_run_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
