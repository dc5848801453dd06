"""RL from pixels on dmc:cheetah-run (64x64 frames, action repeat 4): SAC from pixels, VAE-SAC, CURL
and SLAC at the same budget, plus SLAC's reconstructions and the learners' speed.

    python benchmarks/pixels.py train SEED [ALGO ...]   # the runs of one seed (skipping finished ones)
    python benchmarks/pixels.py report                  # keel report, the strip, keel bench

On 2 CPU cores a paper-sized update takes 1.0 s (SAC from pixels) to 3.4 s (SLAC's actor-critic) and
1.9 s (SLAC's model): the runs here use smaller batches and heads (ARGS below) and a short budget
(STEPS agent steps, 4 environment steps each), labelled as such in RESULTS.md; the paper's settings
are each algorithm's defaults, for a GPU. Results: benchmarks/results/pixels/.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "benchmarks" / "work" / "runs" / "pixels"
OUT = ROOT / "benchmarks" / "results" / "pixels"
ENV, STEPS, WARMUP = "dmc:cheetah-run", 2000, 500
COMMON = ["--env", ENV, "--total-steps", str(STEPS), "--learning-starts", str(WARMUP), "--buffer-size", "20000",
          "--eval-every", "500", "--eval-episodes", "3", "--threads", "1", "--no-progress"]
STACKED = ["--env-kwargs", "action_repeat", "4", "frame_stack", "3"]
ARGS = {   # smaller than the papers' (CPU): batches of 64 (SLAC: 32 sequences, model 16), 256-wide heads
    "pixel_sac": [*STACKED, "--batch-size", "64", "--hidden-sizes", "256", "256"],
    "vae_sac": [*STACKED, "--batch-size", "64", "--vae-batch-size", "32", "--vae-pretrain", str(WARMUP)],
    "curl_sac": [*STACKED, "--batch-size", "64", "--hidden-sizes", "256", "256"],
    "slac": ["--env-kwargs", "action_repeat", "4", "--batch-size", "32", "--model-batch-size", "16",
             "--model-pretrain", str(WARMUP)],
}


def keel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "keelrl.cli", *args], check=True, cwd=ROOT)


def train(seed: int, algos: list[str]) -> None:
    for algo in algos or list(ARGS):
        run = RUNS / algo / f"seed{seed}"
        if (run / "checkpoint.pt").exists() and _last_step(run) >= STEPS:
            continue
        keel("train", algo, *COMMON, *ARGS[algo], "--seed", str(seed), "--run-dir", str(run), "--overwrite")


def _last_step(run: Path) -> int:
    try:
        return int((run / "eval.csv").read_text().strip().splitlines()[-1].split(",")[0])
    except (OSError, ValueError, IndexError):
        return 0


def strip() -> None:
    """SLAC's reconstructions of 9 frames of its own policy (seed 0): real / posterior / prior dream."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from keelrl.envs.make import make_env
    from keelrl.nn.sequential_latent import reconstruction_strip
    from keelrl.train.checkpoint import agent_from_checkpoint, read_checkpoint
    agent = agent_from_checkpoint(read_checkpoint(RUNS / "slac" / "seed0" / "checkpoint.pt"), device="cpu")
    env = make_env(ENV, kwargs={"action_repeat": 4})
    obs, _ = env.reset(seed=0)
    agent.start_episodes(np.ones(1, bool))
    frames, actions = [obs], []
    for _ in range(agent.cfg.sequence_length):
        a = agent.act(obs[None], deterministic=True)[0]
        obs, *_ = env.step(a)
        frames.append(obs)
        actions.append(agent.to_policy_space(a[None])[0])
    env.close()
    torch.manual_seed(0)
    with torch.no_grad():
        image = reconstruction_strip(agent.model, torch.as_tensor(np.stack(frames)).float(),
                                     torch.as_tensor(np.stack(actions)).float())
    OUT.mkdir(parents=True, exist_ok=True)
    plt.imsave(OUT / "slac_reconstructions.png", image)


def report() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    done = [p for p in sorted(RUNS.glob("*/seed*")) if _last_step(p) >= STEPS]      # runs that reached the budget
    keel("report", *[str(p) for p in done], "--out", str(OUT / "report"))
    for p in sorted(RUNS.glob("*/seed*")):   # every run's evaluations, finished or not, as it stands
        dest = OUT / "eval" / f"{p.parent.name}_{p.name}.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text((p / "eval.csv").read_text())
    strip()
    keel("bench", "pixel_sac", "vae_sac", "curl_sac", "slac", "--updates", "30", "--warmup", "3", "--threads", "1",
         "--device", "cpu", "--out", str(OUT / "bench.json"))
    from keelrl.data.sequence_replay import SequenceReplayBuffer
    buf = SequenceReplayBuffer(1000, (9, 64, 64), 6, frame_stack=3)
    (OUT / "replay_memory.json").write_text(json.dumps({
        "frames_per_100k_bytes": buf.frame_bytes / buf.capacity * 100_000, "line": buf.memory_text()}, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("MUJOCO_GL", "egl")
    if sys.argv[1] == "train":
        train(int(sys.argv[2]), sys.argv[3:])
    elif sys.argv[1] == "strip":
        strip()
    else:
        report()
