"""Learner speed, keelrl vs a peer (Stable-Baselines3 online, d3rlpy offline): alternating runs
(A B A B ...), median ratio.

    .venv/bin/python benchmarks/speed.py --algo td3 --rounds 5 --updates 300 --threads 1
    .venv/bin/python benchmarks/speed.py --algo iql --rounds 5 --updates 300 --threads 1   # vs d3rlpy

Each run is a fresh process (benchmarks/keel_speed.py in .venv, benchmarks/sb3_speed.py in
benchmarks/.venv-sb3) timing gradient updates on synthetic data with identical settings (listed in
keel_speed.py), the same torch (2.13.0) and thread count. Offline algorithms (td3_bc, iql, cql) run
benchmarks/keel_offline_speed.py against benchmarks/d3rlpy_speed.py (benchmarks/.venv-d3rlpy): each
library's own settings for the algorithm (those of the returns benchmark), Hopper's sizes, batch 256. Writes results/<algo>_speed_<threads>t.json
with every run, the load average before each, and the median ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ONLINE_PEERS = {
    "keelrl": [str(ROOT / ".venv/bin/python"), str(HERE / "keel_speed.py")],
    "sb3": [str(HERE / ".venv-sb3/bin/python"), str(HERE / "sb3_speed.py")],
}
OFFLINE_PEERS = {
    "keelrl": [str(ROOT / ".venv/bin/python"), str(HERE / "keel_offline_speed.py")],
    "d3rlpy": [str(HERE / ".venv-d3rlpy/bin/python"), str(HERE / "d3rlpy_speed.py")],
}
OFFLINE = ("td3_bc", "iql", "cql", "bc", "awac")


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--algo", required=True, choices=["sac", "td3", "ddpg", "dqn", "ppo", *OFFLINE])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    env = {"OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads), "PATH": "/usr/bin:/bin"}
    peers = OFFLINE_PEERS if a.algo in OFFLINE else ONLINE_PEERS
    peer = [k for k in peers if k != "keelrl"][0]
    runs: dict[str, list[float]] = {k: [] for k in peers}
    loads: list[float] = []
    for r in range(a.rounds):
        for lib, cmd in peers.items():
            loads.append(round(os.getloadavg()[0], 2))
            out = subprocess.run([*cmd, "--algo", a.algo, "--updates", str(a.updates), "--threads", str(a.threads)],
                                 capture_output=True, text=True, env=env, check=True, cwd=HERE).stdout
            ups = json.loads(out.strip().splitlines()[-1])["updates_per_s"]
            runs[lib].append(ups)
            print(f"round {r + 1}: {lib:7s} {ups:7.1f} updates/s", flush=True)
    ratios = [k / s for k, s in zip(runs["keelrl"], runs[peer])]
    result = {"algo": a.algo, "peer": peer, "cpu": cpu_name(), "threads": a.threads, "updates_per_run": a.updates, "runs": runs,
              "load_average_before_each_run": loads,
              "median_updates_per_s": {k: statistics.median(v) for k, v in runs.items()},
              "ratios_per_round": [round(x, 3) for x in ratios], "median_ratio": round(statistics.median(ratios), 3)}
    out = HERE / "results" / f"{a.algo}_speed_{a.threads}t.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("median_updates_per_s", "median_ratio")}))


if __name__ == "__main__":
    main()
