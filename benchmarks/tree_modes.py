"""Multimodal imitation on "go around the tree" (keel/Tree-v0, docs/tree_environment.md): does a
policy keep the two routes of the demonstrations, or average them into the tree?

    python benchmarks/tree_modes.py train     # the runs (keel train), skipping finished ones
    python benchmarks/tree_modes.py report    # evaluation, MMD, the table and the plot

Every policy is trained on the same dataset (keel collect --kind demonstrations, 20k steps) for
UPDATES updates, SEEDS seeds, then evaluated here on 100 episodes (seeds 10_000..): success (the
goal reached without touching the tree), collisions, and which side each episode passed the tree
(`route_side`). The MMD (Gaussian kernel of bandwidth BANDWIDTH = 0.2, the scale of two samples of one
mode under the demonstrator's noise of 0.1 per dimension; `keelrl.functional.gaussian_kernel_mmd`)
compares the policy's sampled actions with the demonstrated ones at the branch (the dataset's states
with y in [-0.46, -0.38], where half the demonstrations turn left and half right) and over all of
the dataset's states (state-action pairs). Results: benchmarks/results/tree/.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MINARI_DATASETS_PATH", str(ROOT / "benchmarks" / "work" / "datasets"))
DATASET = "keel/tree/demonstrations-v0"
RUNS = ROOT / "benchmarks" / "work" / "runs" / "tree"
OUT = ROOT / "benchmarks" / "results" / "tree"
SEEDS, UPDATES, EPISODES = (0, 1, 2), 5000, 100
BANDWIDTH = 0.2

METHODS = {   # name -> keel train arguments
    "BC (squared error)": ["bc"],
    "BC (Gaussian)": ["bc", "--actor", "gaussian"],
    "CVAE, z = 0": ["cvae_bc"],
    "CVAE, z per step": ["cvae_bc", "--latent", "step"],
    "CVAE, z per episode": ["cvae_bc", "--latent", "episode"],
    "CVAE chunks 8, ensembled, z = 0": ["cvae_bc", "--chunk", "8"],
    "CVAE chunks 8, ensembled, z per episode": ["cvae_bc", "--chunk", "8", "--latent", "episode"],
    "CVAE chunks 8, open loop, z per step": ["cvae_bc", "--chunk", "8", "--execution", "open_loop", "--latent", "step"],
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def keel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "keelrl.cli", *args], check=True, cwd=ROOT)


def train() -> None:
    from keelrl.data.offline import dataset_dir
    if not (dataset_dir(DATASET) / "data").is_dir():
        keel("collect", "--kind", "demonstrations", "--env", "keel/Tree-v0", "--name", DATASET, "--steps", "20000")
    for name, args in METHODS.items():
        for seed in SEEDS:
            run = RUNS / slug(name) / f"seed{seed}"
            if (run / "checkpoint.pt").exists() and _last_step(run) >= UPDATES:
                continue
            keel("train", *args, "--dataset", DATASET, "--seed", str(seed), "--total-steps", str(UPDATES),
                 "--eval-every", str(UPDATES), "--eval-episodes", "20", "--threads", "1", "--no-progress",
                 "--run-dir", str(run), "--overwrite")


def _last_step(run: Path) -> int:
    try:
        return int((run / "eval.csv").read_text().strip().splitlines()[-1].split(",")[0])
    except (OSError, ValueError, IndexError):
        return 0


def _sampled_actions(agent, obs: np.ndarray, seed: int) -> np.ndarray:
    """Actions the policy samples at states obs [N, 2] (env units): a CVAE decodes z ~ N(0, I) (its
    generative model; chunks: the chunk's first action), a Gaussian BC samples its Gaussian, the
    squared-error BC gives its one action."""
    torch.manual_seed(seed)
    if hasattr(agent, "vae"):
        z = torch.randn(len(obs), agent.latent_dim, generator=torch.Generator().manual_seed(seed))
        chunk = agent.predict(agent.obs_norm(obs), z)[:, 0]
        return agent.bounds.to_env(chunk)
    return agent.act(obs, deterministic=False)


def report() -> None:
    import gymnasium as gym
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import keelrl.envs  # noqa: F401  (registers keel/Tree-v0)
    from keelrl.data.offline import load_minari
    from keelrl.envs.action_bounds import ActionBounds
    from keelrl.envs.tree import TREE_RADIUS, GOAL, GOAL_REACH, route_side
    from keelrl.functional import gaussian_kernel_mmd
    from keelrl.train.checkpoint import agent_from_checkpoint, read_checkpoint
    from keelrl.train.evaluation import EVAL_SEED_OFFSET, episode_starter

    data = load_minari(DATASET)
    obs = data.obs.numpy()
    act = ActionBounds(data.action_space.low, data.action_space.high).to_env_numpy(data.action.numpy())
    branch = (obs[:, 1] > -0.46) & (obs[:, 1] < -0.38) & (np.abs(obs[:, 0]) < 0.05)
    rng = np.random.default_rng(0)
    all_idx = rng.choice(len(obs), size=min(2000, len(obs)), replace=False)
    results, paths = {}, {}
    for name in METHODS:
        rows = []
        for seed in SEEDS:
            ckpt = RUNS / slug(name) / f"seed{seed}" / "checkpoint.pt"
            if not ckpt.exists():
                continue
            agent = agent_from_checkpoint(read_checkpoint(ckpt), device="cpu")
            env = gym.make("keel/Tree-v0")
            start = episode_starter(agent)
            succ, coll, sides, traj = [], [], [], []
            for ep in range(EPISODES):
                o, _ = env.reset(seed=EVAL_SEED_OFFSET + ep)
                if start is not None:
                    start(np.ones(1, bool))
                path, done = [o.copy()], False
                while not done:
                    o, _, term, trunc, info = env.step(agent.act(o[None], deterministic=True)[0])
                    path.append(o.copy())
                    done = term or trunc
                succ.append(info["success"]), coll.append(info["collision"])
                sides.append(route_side(np.asarray(path)))
                traj.append(np.asarray(path))
            env.close()
            b_obs = obs[branch]
            mmd_branch = float(gaussian_kernel_mmd(torch.as_tensor(_sampled_actions(agent, b_obs, seed)),
                                                   torch.as_tensor(act[branch]), BANDWIDTH))
            s_all = obs[all_idx]
            pairs = lambda a: torch.as_tensor(np.concatenate([s_all, a], 1))  # noqa: E731
            mmd_all = float(gaussian_kernel_mmd(pairs(_sampled_actions(agent, s_all, seed)), pairs(act[all_idx]), BANDWIDTH))
            rows.append({"seed": seed, "success": float(np.mean(succ)), "collision": float(np.mean(coll)),
                         "left": float(np.mean(np.array(sides) == -1)), "right": float(np.mean(np.array(sides) == 1)),
                         "mmd_branch": mmd_branch, "mmd_all": mmd_all})
            if seed == SEEDS[0]:
                paths[name] = traj[:30]
        results[name] = rows
    demo_side = {"left": float(np.mean(obs[branch][:, 0] <= 0))}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "tree_modes.json").write_text(json.dumps({"dataset": DATASET, "updates": UPDATES, "episodes": EPISODES,
                                                     "branch_states": int(branch.sum()), "results": results,
                                                     "demonstrations": demo_side}, indent=1))
    lines = ["| policy | success | collision | left / right | MMD at the branch | MMD over all states |",
             "|---|---|---|---|---|---|"]
    for name, rows in results.items():
        if not rows:
            continue
        m = lambda k: np.mean([r[k] for r in rows])  # noqa: E731
        lo = lambda k: min(r[k] for r in rows)  # noqa: E731
        hi = lambda k: max(r[k] for r in rows)  # noqa: E731
        lines.append(f"| {name} | {m('success'):.2f} ({lo('success'):.2f}–{hi('success'):.2f}) | {m('collision'):.2f} | "
                     f"{m('left'):.2f} / {m('right'):.2f} | {m('mmd_branch'):.3f} | {m('mmd_all'):.4f} |")
    (OUT / "tree_modes.md").write_text(
        f"Tree (keel/Tree-v0), {len(SEEDS)} seeds × {EPISODES} evaluation episodes, {UPDATES} updates on "
        f"{DATASET}; mean over seeds (min–max of success); MMD with a Gaussian kernel of bandwidth {BANDWIDTH}. "
        f"`python benchmarks/tree_modes.py report`.\n\n"
        + "\n".join(lines) + "\n")
    # the plot: each policy's first 30 evaluation paths over the tree
    names = [n for n in METHODS if n in paths]
    fig, axes = plt.subplots(2, (len(names) + 1) // 2, figsize=(3.2 * ((len(names) + 1) // 2), 6.8))
    for ax, name in zip(axes.flat, names):
        ax.add_patch(plt.Circle((0, 0), TREE_RADIUS, color="tab:green", alpha=0.6))
        ax.add_patch(plt.Circle(tuple(GOAL), GOAL_REACH, color="tab:red", alpha=0.4))
        for p in paths[name]:
            ax.plot(p[:, 0], p[:, 1], lw=0.8, alpha=0.7, color="tab:blue")
        ok = np.mean([r["success"] for r in results[name]])
        ax.set_title(f"{name}\nsuccess {ok:.2f}", fontsize=8)
        ax.set_xlim(-1.1, 1.1), ax.set_ylim(-1.1, 1.2), ax.set_aspect("equal"), ax.set_xticks([]), ax.set_yticks([])
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"keel/Tree-v0: 30 evaluation paths of seed {SEEDS[0]}; success is the mean over {len(SEEDS)} seeds "
                 f"x {EPISODES} episodes", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT / "tree_modes.png", dpi=110)
    print((OUT / "tree_modes.md").read_text())


if __name__ == "__main__":
    {"train": train, "report": report}[sys.argv[1] if len(sys.argv) > 1 else "report"]()
