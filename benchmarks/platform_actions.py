"""Action sequences that cross Platform, for benchmarks/platform_check.py to replay against the
hybrid-platform package: the lookahead policy of tests/envs/test_platform.py on seeds 0..N-1.

    .venv/bin/python benchmarks/platform_actions.py --seeds 10 --out benchmarks/results/platform_actions.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gymnasium as gym

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keelrl  # noqa: E402,F401
from keelrl.envs.hybrid.platform import PlatformEnv  # noqa: E402
from tests.envs.test_platform import _action, lookahead_action  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    episodes = []
    for seed in range(a.seeds):
        env = gym.make("keel/Platform-v0")
        env.reset(seed=seed)
        scratch = PlatformEnv()
        scratch.reset(seed=0)
        actions, info = [], {}
        for _ in range(40):
            k, value = lookahead_action(env.unwrapped, scratch)
            actions.append([k, float(value)])
            _, _, term, trunc, info = env.step(_action(k, value))
            if term or trunc:
                break
        episodes.append({"seed": seed, "actions": actions, "success": bool(info.get("success"))})
        print(seed, len(actions), episodes[-1]["success"], flush=True)
    Path(a.out).write_text(json.dumps(episodes) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
