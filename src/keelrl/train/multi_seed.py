"""Several seeds of one off-policy run in one process (`keel train sac --env Hopper-v5 --seeds 0-4`).

Each seed has its own environments, replay buffer, numpy and torch random streams, evaluation
environment and run folder (BASE/s<seed>, an ordinary run folder). The agents' parameters are
stacked along a seed dimension (speed/sac_seeds.py), so one update of all seeds is one batched
matmul per layer. The iteration is off_policy.py's, seed by seed where the data differ; the rest
is the run skeleton's, with one member per seed.

Every seed's checkpoint is a single-seed checkpoint: `keel train --resume BASE/s3` continues seed 3
alone, and `keel train --resume BASE` continues the whole group in one process.
"""
from __future__ import annotations

import json
import random
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from keelrl.version import __version__
from keelrl.algos import check_spaces, rebuild_agent
from keelrl.algos.spec import AlgoSpec, Transitions
from keelrl.data.replay import ReplayBuffer
from keelrl.device import available_memory, human_bytes
from keelrl.envs.make import env_label, make_env, make_vector_env, true_next_obs
from keelrl.envs.state import set_vector_state, vector_state
from keelrl.errors import KeelError
from keelrl.speed.sac_seeds import STACKED
from keelrl.train.checkpoint import CHECKPOINT_NAME, atomic_write_text, check_belongs, read_checkpoint, settle
from keelrl.train.config import RunConfig, parse_seeds
from keelrl.train.logging import EpisodeTracker
from keelrl.train.run_folder import (CONFIG_NAME, SEED_FOLDER, agent_step_meta, default_run_dir, import_recorded, plan_run_dir, read_marker,
                                     read_run_config, remove_temporaries)
from keelrl.train.skeleton import Member, RunSkeleton, allocating, finish_run, mark_finished, resolve_device, setup_threads
from keelrl.train.tracking import check_trackers
from keelrl.types import Spaces


class SeedView:
    """Seed i of a stack, seen as an ordinary agent by evaluation."""

    def __init__(self, stack, i: int) -> None:
        self.stack, self.i = stack, i

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        return self.stack.act_seed(self.i, obs, deterministic)


def seed_dirs(base: Path, seeds: list[int]) -> list[Path]:
    return [base / f"s{s}" for s in seeds]


SEED_OVERHEAD = 16 * 2**20
"""Memory each seed takes besides its replay buffer and networks (its environment copies, its logs), roughly."""


def train(spec: AlgoSpec, run: RunConfig, cfg, callback=None, meta: dict | None = None) -> list[Path]:
    """Start len(seeds) runs of `spec`'s algorithm in one process; return their folders. `meta`:
    what every seed's config.json records besides its run settings."""
    if spec.name not in STACKED:
        raise KeelError(f"--seeds trains several seeds in one process for {', '.join(STACKED)}; "
                        f"for {spec.name}, start one run per --seed (or use keel sweep)")
    if run.cuda_graphs:
        raise KeelError("--cuda-graphs captures a single-seed update; with --seeds, leave it off (--compile works)")
    STACKED[spec.name].check_config(cfg)
    seeds = parse_seeds(run.seeds)
    base = Path(run.run_dir) if run.run_dir else default_run_dir(spec.name, env_label(run.env), f"eeds{run.seeds}")
    device = resolve_device(run.device)
    probe = make_env(run.env, kwargs=run.env_kwargs, wrappers=run.wrappers)
    try:
        spaces = Spaces.of(probe)
        check_spaces(spec, spaces, env_label(run.env))
        meta = {**(meta or {}), **agent_step_meta(probe)}
    finally:
        probe.close()
    check_seeds_fit(spec, cfg, run, spaces, len(seeds), device)
    check_trackers(run.track)
    plan = plan_run_dir(base, run.overwrite)
    runs, files = [], {}
    for s, d in zip(seeds, seed_dirs(base, seeds)):
        r = replace(run, seed=s, seeds="", run_dir=str(d))
        seed_meta = {**(meta or {}), "algo": spec.name, "keelrl_version": __version__,
                     "torch_version": torch.__version__, "run": asdict(r), "algo_config": asdict(cfg),
                     "seed_group": {"base": str(base), "seeds": seeds}}
        files[d.name] = {CONFIG_NAME: json.dumps(seed_meta, indent=2)}
        runs.append(r)
    with allocating(f"{len(seeds)} seeds"):
        loop = MultiSeedLoop(spec, runs, cfg, base)
    try:
        plan.create(files, kind="seed-group")
    except BaseException:
        loop.close()
        raise
    return loop.run(callback)


def check_seeds_fit(spec: AlgoSpec, cfg, run: RunConfig, spaces: Spaces, count: int, device: torch.device) -> None:
    """Refuse, before any folder is made, more seeds than fit in memory: each has its replay buffer,
    its networks with gradients, optimizer moments and targets, and its environment copies."""
    from keelrl.algos import build_agent
    needs: Transitions = spec.needs(cfg)
    buffer = ReplayBuffer.nbytes(needs.buffer_size, spaces.obs_dim, None if spaces.discrete else spaces.act_dim)
    from keelrl.speed.compiled import agent_parts
    nets = agent_parts(build_agent(spec, cfg, spaces, "cpu"), torch.nn.Module).values()
    params = sum(p.numel() for net in nets for p in net.parameters())   # trainable and target networks
    per_seed = buffer + 4 * 4 * params + SEED_OVERHEAD * (run.num_envs + 1)   # weights, gradients, two Adam moments
    have = available_memory(device)
    if count * per_seed > 0.9 * have:
        fit = max(int(0.9 * have // per_seed), 0)
        raise KeelError(f"--seeds {run.seeds} asks for {count:,} seeds, which need about {human_bytes(count * per_seed)} "
                        f"({human_bytes(per_seed)} each, mostly the replay buffer) and {human_bytes(have)} of "
                        f"{device.type} memory is available: at most {fit} fit; lower --buffer-size or start several groups")


def is_group(base: Path) -> bool:
    """Whether `base` is a folder of seeds trained together (--seeds)."""
    marker = read_marker(base)
    if marker is not None:
        return marker.get("kind") == "seed-group"
    return base.is_dir() and not (base / CONFIG_NAME).exists() and any(
        (d / CONFIG_NAME).exists() for d in base.iterdir() if d.is_dir() and SEED_FOLDER.fullmatch(d.name))


def group_dirs(base: Path) -> list[Path] | None:
    """The seed folders of a group started with --seeds (BASE/s<seed>), in seed order, or None."""
    if not is_group(base):
        return None
    dirs = [d for d in base.iterdir() if d.is_dir() and SEED_FOLDER.fullmatch(d.name) and (d / CONFIG_NAME).exists()]
    return sorted(dirs, key=lambda d: int(d.name[1:])) or None


def resume(base: Path, total_steps: int | None = None, callback=None, progress: bool | None = None,
           trust_pickle: bool = False) -> list[Path]:
    """Continue every seed of the group in `base` from its checkpoint, in one process."""
    from keelrl.algos import get_algo
    dirs = group_dirs(base)
    if dirs is None:
        raise KeelError(f"cannot resume {base}: it is neither a keelrl run folder nor a folder of seed runs")
    import_recorded(dirs[0])
    settle(base)
    metas = [read_run_config(d) for d in dirs]
    missing = [d.name for d in dirs if not (d / CHECKPOINT_NAME).exists()]
    if missing:
        raise KeelError(f"cannot resume {base}: the group stopped before its first checkpoint ({', '.join(missing[:3])} "
                        f"have none); start it again with the same command and --overwrite")
    ckpts = [read_checkpoint(d / CHECKPOINT_NAME, trust_pickle) for d in dirs]
    for meta, c, d in zip(metas, ckpts, dirs):
        check_belongs(meta, c, d, get_algo(c["algo"]).current_names)
    steps = {c["loop"]["step"] for c in ckpts}
    if len(steps) != 1 or len({c["algo"] for c in ckpts}) != 1:
        raise KeelError(f"the seed runs in {base} are at different steps {sorted(steps)}; "
                        f"resume each alone with keel train --resume {dirs[0]}")
    spec, step = get_algo(ckpts[0]["algo"]), steps.pop()
    runs = [RunConfig(**c["run_config"]) for c in ckpts]
    for r, d in zip(runs, dirs):
        r.run_dir = str(d)
        if total_steps is not None:
            r.total_steps = total_steps
        if progress is not None:
            r.progress = progress
    if runs[0].total_steps <= step:
        if step == runs[0].total_steps and not all((read_marker(d) or {}).get("finished") for d in dirs):
            for d, c in zip(dirs, ckpts):   # stopped after the final checkpoints: draw the curves
                finish_run(d, False, step, c["loop"].get("last_eval"))
                mark_finished(d)
            return dirs
        raise KeelError(f"the runs in {base} are already at step {step} of {runs[0].total_steps}; "
                        f"pass --total-steps N with N > {step} to train them further")
    cfg = spec.config_from(ckpts[0]["algo_config"])
    with allocating(f"the resumed group {base}"):
        loop = MultiSeedLoop(spec, runs, cfg, base, ckpts)
    for d, meta in zip(dirs, metas):   # the group is rebuilt: now the folders may change
        remove_temporaries(d)
        if total_steps is not None:
            meta["run"]["total_steps"] = total_steps
            atomic_write_text(json.dumps(meta, indent=2), d / CONFIG_NAME)
    return loop.run(callback)


class MultiSeedLoop:
    def __init__(self, spec: AlgoSpec, runs: list[RunConfig], cfg, base: Path, ckpts: list[dict] | None = None) -> None:
        self.spec, self.runs, self.cfg, self.base = spec, runs, cfg, base
        self.needs: Transitions = spec.needs(cfg)
        run = self.run_cfg = runs[0]
        self.seeds = [r.seed for r in runs]
        self.dirs = [Path(r.run_dir) for r in runs]
        self.device = resolve_device(run.device)
        setup_threads(run, ckpts[0] if ckpts else None)
        self.envs = [make_vector_env(run.env, run.num_envs, run.env_kwargs, run.wrappers) for _ in runs]
        spaces = Spaces.of(self.envs[0])
        self.agent = STACKED[spec.name](cfg, self.seeds, spaces, self.device)
        if run.compile:
            from keelrl.speed.compiled import compile_networks
            compile_networks(self.agent)
        self.buffers = [ReplayBuffer.for_spaces(self.needs.buffer_size, spaces, self.device, seed=s) for s in self.seeds]
        self.np_rngs = [np.random.default_rng(s) for s in self.seeds]
        self.episodes = [EpisodeTracker(run.num_envs) for _ in runs]
        members = [Member(r, d, SeedView(self.agent, i),
                          make_env(run.env, kwargs=run.env_kwargs, wrappers=run.wrappers) if run.eval_episodes > 0 else None,
                          self.episodes[i])
                   for i, (r, d) in enumerate(zip(runs, self.dirs))]
        self.skeleton = RunSkeleton(self, spec.name, cfg, members, f"{spec.name} {run.env} ×{len(self.seeds)} seeds",
                                    list(self.agent.metric_names), self.device, resume_target=base, stacked=True)
        self.step, self.update_debt = 0, 0.0
        self.metrics: dict[str, torch.Tensor] = {}
        if ckpts is None:
            self.obs = []
            for env, s in zip(self.envs, self.seeds):
                self.obs.append(env.reset(seed=s)[0])
                env.action_space.seed(s)
        else:
            self._restore(ckpts)

    # ---- checkpoints: one ordinary single-seed checkpoint per seed folder
    def _rng_state(self, i: int) -> dict:
        g = self.agent.generators[i]
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        if self.device.type == "cuda":
            cuda[self.device.index or 0] = g.get_state()
        return {"torch": g.get_state() if self.device.type == "cpu" else torch.get_rng_state(),
                "numpy_global": np.random.get_state(), "python": random.getstate(),
                "np_rng": self.np_rngs[i].bit_generator.state, "cuda": cuda}

    def checkpoint_state(self, i: int) -> dict:
        """Seed i's checkpoint: an ordinary single-seed one."""
        return {"agent": self.agent.seed_state_dict(i), "buffer": self.buffers[i].state_dict(), "rng": self._rng_state(i),
                "envs": vector_state(self.envs[i]), "nstep": None,
                "loop": {"step": self.step, "obs": self.obs[i], "update_debt": self.update_debt,
                         **self.episodes[i].state_dict(), "metrics": {k: v[i].detach().cpu() for k, v in self.metrics.items()}}}

    def _restore(self, ckpts: list[dict]) -> None:
        for i, c in enumerate(ckpts):
            self.agent.load_seed_agent(i, rebuild_agent(self.spec.name, c["agent"], self.device))
            self.buffers[i].load_state_dict(c["buffer"])
            rng = c["rng"]
            self.agent.generators[i].set_state(rng["torch"] if self.device.type == "cpu"
                                               else rng["cuda"][self.device.index or 0])
            self.np_rngs[i].bit_generator.state = rng["np_rng"]
            self.episodes[i].load_state_dict(c["loop"])
        loop = ckpts[0]["loop"]
        self.step, self.update_debt = loop["step"], loop["update_debt"]
        self.skeleton.load_state_dict([c["loop"] for c in ckpts])
        self.obs = [c["loop"]["obs"].copy() for c in ckpts]
        for i, c in enumerate(ckpts):
            for j, first in set_vector_state(self.envs[i], c["envs"], self.runs[i].seed + self.step).items():
                self.obs[i][j] = first   # an environment whose state could not be saved starts a new episode
                self.episodes[i].restart(j)
        if loop["metrics"]:
            self.metrics = {k: torch.stack([c["loop"]["metrics"][k] for c in ckpts]).to(self.device)
                            for k in loop["metrics"]}

    # ---- one iteration: off_policy.py's, for S seeds
    def iterate(self) -> None:
        needs, n, prev = self.needs, self.run_cfg.num_envs, self.step
        if self.step < needs.learning_starts:
            actions = [rng.uniform(e.single_action_space.low, e.single_action_space.high,
                                   size=(n, e.single_action_space.shape[0])).astype(np.float32)
                       for rng, e in zip(self.np_rngs, self.envs)]
        else:
            actions = self.agent.act(np.stack(self.obs))
        self.step += n
        for i, env in enumerate(self.envs):
            next_obs, reward, term, trunc, info = env.step(actions[i])
            done = term | trunc
            self.buffers[i].add(self.obs[i], self.agent.to_policy_space(actions[i]), reward,
                                true_next_obs(next_obs, done, info), term)
            self.obs[i] = next_obs
            self.episodes[i].step(reward, done, self.step, self.skeleton.logs[i])

        if prev >= needs.learning_starts:
            self.update_debt += n * needs.updates_per_step
            while self.update_debt >= 1.0:
                self.update_debt -= 1.0
                self.metrics = self.agent.update([b.sample(needs.batch_size) for b in self.buffers])
                self.skeleton.check_update(self.metrics)
        self.skeleton.evaluate_if_due(prev)

    def run(self, callback=None) -> list[Path]:
        return self.skeleton.run(callback)

    def close(self) -> None:
        for env in self.envs:
            env.close()
