"""keelrl's Platform against an independent implementation: the `hybrid-platform` package (a
gymnasium port of Bester's gym-platform, itself based on Masson's original code). Same seed and the
same random actions (and, with --actions, the same action sequences that cross the course): the
observations and rewards must be equal.

    python -m venv benchmarks/.venv-hybrid-platform
    benchmarks/.venv-hybrid-platform/bin/pip install hybrid-platform==0.1.0 numba   # it imports numba without declaring it
    .venv/bin/python benchmarks/platform_actions.py --seeds 10 --out benchmarks/results/platform_actions.json
    benchmarks/.venv-hybrid-platform/bin/python benchmarks/platform_check.py --episodes 200 \
        --actions benchmarks/results/platform_actions.json --out benchmarks/results/platform_check.json

keelrl's module is loaded from its file (it needs only gymnasium and numpy), so the peer's virtual
environment needs no torch.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def keel_platform():
    spec = importlib.util.spec_from_file_location("keel_platform", ROOT / "src/keelrl/envs/hybrid/platform.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Tally:
    """Both environments stepped with one action; the differences counted."""

    def __init__(self) -> None:
        self.steps = self.obs = self.reward = self.ends = 0
        self.worst_obs = self.worst_reward = 0.0

    def step(self, ours, peer, k: int, params: np.ndarray) -> tuple[bool, dict]:
        o1, r1, end1, _, info = ours.step((k, params))
        (s2, _), r2, end2, _, _ = peer.step((k, tuple(params[i:i + 1] for i in range(3))))
        d_obs, d_rew = float(np.abs(o1 - s2.astype(np.float32)).max()), abs(r1 - float(r2))
        self.steps += 1
        self.worst_obs, self.worst_reward = max(self.worst_obs, d_obs), max(self.worst_reward, d_rew)
        self.obs, self.reward = self.obs + int(d_obs > 0), self.reward + int(d_rew > 0)
        self.ends += int(bool(end1) != bool(end2))
        return bool(end1 or end2), info


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--out", default=None)
    p.add_argument("--actions", default=None, help="also replay these action sequences (benchmarks/platform_actions.py)")
    a = p.parse_args()
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from gym_platform.envs.platform_env import PlatformEnv as PeerPlatform
    ours_mod = keel_platform()
    rng = np.random.default_rng(0)
    tally = Tally()
    for episode in range(a.episodes):
        ours, peer = ours_mod.PlatformEnv(), PeerPlatform()
        o1, _ = ours.reset(seed=episode)
        (s2, _), _ = peer.reset(seed=episode)
        tally.worst_obs = max(tally.worst_obs, float(np.abs(o1 - s2.astype(np.float32)).max()))
        for _ in range(200):
            k = int(rng.integers(3))
            params = rng.uniform(ours_mod.PARAM_LOW, ours_mod.PARAM_HIGH).astype(np.float32)
            if tally.step(ours, peer, k, params)[0]:
                break
    scripted = 0
    for episode in json.loads(Path(a.actions).read_text()) if a.actions else []:
        ours, peer = ours_mod.PlatformEnv(), PeerPlatform()
        ours.reset(seed=episode["seed"])
        peer.reset(seed=episode["seed"])
        info = {}
        for k, value in episode["actions"]:
            params = np.zeros(3, np.float32)
            params[k] = value
            info = tally.step(ours, peer, k, params)[1]
        scripted += bool(info.get("success"))
    result = {"episodes": a.episodes, "scripted_episodes_reaching_the_end": scripted, "steps": tally.steps,
              "steps_with_different_obs": tally.obs, "steps_with_different_reward": tally.reward,
              "different_episode_ends": tally.ends, "max_abs_obs_difference": tally.worst_obs,
              "max_abs_reward_difference": tally.worst_reward,
              "peer": "hybrid-platform 0.1.0 (gym_platform.envs.platform_env.PlatformEnv)"}
    print(json.dumps(result, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0 if tally.obs == tally.reward == tally.ends == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
