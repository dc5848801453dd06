"""Throughput of K seeds trained in one process (`keel train sac --seeds 0-4`) against K separate
processes (`keel train sac --seed s`, all started at once) on the same machine: real training
(environment steps, acting, buffer, updates, evaluation off), wall-clock of the whole job.

    .venv/bin/python benchmarks/multi_seed_speed.py --env Hopper-v5 --seeds 5 --steps 3000 --learning-starts 1000 --rounds 2

Three ways are timed, alternating, each `--rounds` times:
  stacked        one process, --seeds 0-(K-1), torch's default threads (2 here)
  separate-1t    K processes at once, --threads 1 each (the fair way to share 2 cores)
  separate       K processes at once, torch's default threads each (what a plain loop of jobs does)
Throughput is seed-steps per second: K x steps / wall seconds. Writes results/multi_seed_speed.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEEL = str(HERE.parent / ".venv/bin/keel")


def common(a, run_dir: str) -> list[str]:
    return ["--env", a.env, "--total-steps", str(a.steps), "--learning-starts", str(a.learning_starts),
            "--eval-every", "0", "--eval-episodes", "0", "--checkpoint-every", str(10 * a.steps),
            "--no-progress", "--device", "cpu", "--run-dir", run_dir,
            *(["--hidden-sizes", *map(str, a.hidden)] if a.hidden else []), "--batch-size", str(a.batch_size)]


def timed(cmds: list[list[str]], env: dict) -> float:
    t = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in cmds]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"a run failed: {err.strip().splitlines()[-1] if err.strip() else p.returncode}")
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--learning-starts", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--hidden", type=int, nargs="*", default=None, help="hidden sizes (default: SAC's 256 256)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--ways", default="stacked,separate-1t,separate", help="which of the three ways to time")
    p.add_argument("--out", default=str(HERE / "results" / "multi_seed_speed.json"))
    a = p.parse_args()
    k = a.seeds
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
                "MUJOCO_GL": "egl"}
    walls: dict[str, list[float]] = {w: [] for w in a.ways.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for way in walls:
                d = f"{tmp}/{way}-{r}"
                if way == "stacked":
                    cmds = [[KEEL, "train", "sac", "--seeds", f"0-{k - 1}", *common(a, d)]]
                else:
                    threads = ["--threads", "1"] if way == "separate-1t" else []
                    cmds = [[KEEL, "train", "sac", "--seed", str(s), *threads, *common(a, f"{d}/s{s}")] for s in range(k)]
                load = os.getloadavg()[0]
                wall = timed(cmds, base_env)
                walls[way].append(wall)
                print(f"round {r + 1}: {way:12s} {wall:7.1f} s  {k * a.steps / wall:7.1f} seed-steps/s  (load before {load:.2f})",
                      flush=True)
    tput = {w: [round(k * a.steps / x, 2) for x in v] for w, v in walls.items()}
    med = {w: statistics.median(v) for w, v in tput.items()}
    ratio = lambda w: round(med["stacked"] / med[w], 3) if "stacked" in med and w in med else None  # noqa: E731
    result = {"env": a.env, "seeds": k, "steps_per_seed": a.steps, "learning_starts": a.learning_starts,
              "updates_per_seed": a.steps - a.learning_starts, "batch_size": a.batch_size,
              "hidden_sizes": a.hidden or [256, 256], "cpus": os.cpu_count(), "wall_s": walls,
              "seed_steps_per_s": tput, "median_seed_steps_per_s": med,
              "ratio_stacked_vs_separate_1t": ratio("separate-1t"),
              "ratio_stacked_vs_separate_default_threads": ratio("separate")}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(result, indent=2))
    os.replace(tmp_out, out)
    print(json.dumps({k_: result[k_] for k_ in ("median_seed_steps_per_s", "ratio_stacked_vs_separate_1t",
                                                "ratio_stacked_vs_separate_default_threads")}))


if __name__ == "__main__":
    main()
