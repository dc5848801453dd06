"""`keel bench`: learner updates per second on synthetic data, for each algorithm.

No environment is stepped and nothing is read from disk: each algorithm's default Config learns
from the library's own data classes filled with random numbers, at the sizes of the peer
benchmarks in benchmarks/ (keel_speed.py against sb3_speed.py, keel_offline_speed.py against
d3rlpy_speed.py, which build their agents with `learner_setup`), so a `keel bench` number reads
against benchmarks/RESULTS.md:

    sac, td3, ddpg   HalfCheetah's sizes (obs 17, act 6), a ReplayBuffer of 10,000 random transitions
    dqn              CartPole's sizes (obs 4, 2 actions)
    ppo              obs 17, act 6, a RolloutBuffer of 2048 random steps; an update is one minibatch step
    offline algos    Hopper's sizes (obs 11, act 3), an OfflineDataset of 10,000 random transitions

Sampling the batch is timed with the update, as the training loops run them. The clock starts
after a warm-up and stops after one synchronisation at the end (reading a metric), so queued
GPU work is counted and no sync inside the timed loop is added.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch

from keelrl import __version__
from keelrl.algos import ALGOS, get_algo
from keelrl.data.offline import OfflineDataset
from keelrl.data.replay import ReplayBuffer
from keelrl.data.rollout import RolloutBuffer
from keelrl.errors import KeelError

FILL = 10_000
"""Random transitions in the replay buffer / dataset."""
CONTINUOUS_SIZES = (17, 6)   # HalfCheetah-v5
DISCRETE_SIZES = (4, 2)      # CartPole-v1
OFFLINE_SIZES = (11, 3)      # Hopper-v5
ROLLOUT_STEPS = 2048


@dataclass
class LearnerSetup:
    """An agent and the data it learns from. `update()` draws the next batch and makes one
    `agent.update` call on it: `updates_per_call` gradient steps (PPO: epochs × minibatches)."""

    algo: str
    agent: Any
    data: Any
    sample: Callable[[], Any]
    learn: Callable[[Any], dict]
    updates_per_call: int

    def update(self) -> dict[str, torch.Tensor]:
        return self.learn(self.sample())


def _random_transitions(rng: np.random.Generator, obs_dim: int, actions: np.ndarray, fill: int) -> tuple:
    """(obs, action, reward, next_obs, terminated) of `fill` random steps, 1% of them terminal."""
    return (rng.normal(size=(fill, obs_dim)), actions, rng.normal(size=fill), rng.normal(size=(fill, obs_dim)),
            (rng.random(fill) < 0.01).astype(np.float32))


def filled_replay_buffer(obs_dim: int, act_dim: int | None, num_actions: int = 2, fill: int = FILL,
                         device: torch.device | str = "cpu", seed: int = 0) -> ReplayBuffer:
    """A ReplayBuffer holding `fill` random transitions (discrete actions when act_dim is None)."""
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, num_actions, fill) if act_dim is None else rng.uniform(-1, 1, (fill, act_dim))
    buf = ReplayBuffer(fill, obs_dim, act_dim, device, seed=seed)
    buf.add(*_random_transitions(rng, obs_dim, actions, fill))
    return buf


def synthetic_dataset(obs_dim: int = OFFLINE_SIZES[0], act_dim: int = OFFLINE_SIZES[1], fill: int = FILL,
                      device: torch.device | str = "cpu", seed: int = 0) -> OfflineDataset:
    """An OfflineDataset of `fill` random transitions (no environment: it cannot be evaluated)."""
    rng = np.random.default_rng(seed)
    t = lambda x: torch.as_tensor(np.asarray(x, np.float32), device=device)  # noqa: E731
    data = OfflineDataset("synthetic", t(rng.normal(size=(fill, obs_dim))), t(rng.uniform(-1, 1, (fill, act_dim))),
                          t(rng.normal(size=fill)), t(rng.normal(size=(fill, obs_dim))), t(rng.random(fill) < 0.01),
                          rng.normal(size=100), gym.spaces.Box(-np.inf, np.inf, (obs_dim,)),
                          gym.spaces.Box(-1, 1, (act_dim,)))
    data.seed(seed)
    return data


def random_rollout(agent, obs_dim: int, steps: int, device: torch.device | str = "cpu", seed: int = 0) -> RolloutBuffer:
    """A RolloutBuffer of `steps` steps of one copy: random observations, rewards and next observations,
    the agent's own sampled actions, log-probabilities and values, an episode end every ~1000 steps."""
    act_dim = None if agent.discrete else agent.action_space.shape[0]
    roll = RolloutBuffer(steps, 1, obs_dim, act_dim, device)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        obs = torch.as_tensor(rng.normal(size=(1, obs_dim)), dtype=torch.float32, device=device)
        action, log_prob, value = agent.sample(obs)
        done = rng.random(1) < 0.001
        roll.add(obs, action, log_prob, value, rng.normal(size=1), rng.normal(size=(1, obs_dim)), done, done)
    return roll


def learner_setup(algo: str, device: torch.device | str = "cpu", batch_size: int | None = None,
                  overrides: dict | None = None, fill: int = FILL, rollout_steps: int = ROLLOUT_STEPS,
                  seed: int = 0) -> LearnerSetup:
    """`algo`'s agent with its default Config (plus `overrides`; `batch_size`: PPO's minibatch size)
    and synthetic data on `device`, at the sizes listed in this module's docstring."""
    spec = get_algo(algo)
    overrides = dict(overrides or {})
    device = torch.device(device)
    torch.manual_seed(seed)
    if spec.loop == "on_policy":
        overrides.setdefault("rollout_steps", rollout_steps)
        if batch_size is not None:
            overrides["num_minibatches"] = max(overrides["rollout_steps"] // batch_size, 1)
        cfg = spec.config(**overrides)
        obs_dim, act_dim = CONTINUOUS_SIZES
        agent = spec.agent(cfg, obs_dim, gym.spaces.Box(-1, 1, (act_dim,), np.float32), device)
        roll = random_rollout(agent, obs_dim, cfg.rollout_steps, device, seed)
        per_call = cfg.epochs * (cfg.rollout_steps // max(cfg.rollout_steps // cfg.num_minibatches, 1))
        return LearnerSetup(algo, agent, roll, lambda: roll, lambda r: agent.update(r, 1.0), per_call)
    if batch_size is not None:
        overrides["batch_size"] = batch_size
    cfg = spec.config(**overrides)
    if spec.loop == "offline":
        obs_dim, act_dim = OFFLINE_SIZES
        ones = np.ones(act_dim, np.float32)
        agent = spec.agent(cfg, obs_dim, act_dim, -ones, ones, device)
        data = synthetic_dataset(obs_dim, act_dim, fill, device, seed)
    elif spec.actions == "discrete":
        obs_dim, num_actions = DISCRETE_SIZES
        agent = spec.agent(cfg, obs_dim, num_actions, device)
        data = filled_replay_buffer(obs_dim, None, num_actions, fill, device, seed)
    else:
        obs_dim, act_dim = CONTINUOUS_SIZES
        agent = spec.agent(cfg, obs_dim, act_dim, -np.ones(act_dim), np.ones(act_dim), device)
        data = filled_replay_buffer(obs_dim, act_dim, fill=fill, device=device, seed=seed)
    return LearnerSetup(algo, agent, data, lambda: data.sample(cfg.batch_size), agent.update, 1)


def stacked_setup(algo: str, seeds: int, device: torch.device | str = "cpu", batch_size: int | None = None,
                  fill: int = FILL) -> LearnerSetup:
    """`seeds` agents of `algo` stacked in one (as `keel train --seeds`), each with its own filled
    buffer; one update call is one update of every seed."""
    from keelrl.train.multi_seed import STACKED
    if algo not in STACKED:
        raise KeelError(f"--seeds times stacked seeds of {', '.join(STACKED)}, not {algo}")
    spec = get_algo(algo)
    cfg = spec.config(**({} if batch_size is None else {"batch_size": batch_size}))
    obs_dim, act_dim = CONTINUOUS_SIZES
    agent = STACKED[algo](cfg, range(seeds), obs_dim, act_dim, -np.ones(act_dim), np.ones(act_dim), device)
    bufs = [filled_replay_buffer(obs_dim, act_dim, fill=fill, device=device, seed=s) for s in range(seeds)]
    return LearnerSetup(algo, agent, bufs, lambda: [b.sample(cfg.batch_size) for b in bufs], agent.update, 1)


def updates_per_second(setup: LearnerSetup, updates: int, warmup: int) -> float:
    """Gradient steps per second over about `updates` steps (whole `agent.update` calls), after
    about `warmup` steps; one synchronisation at the end."""
    calls = lambda n: max(1, math.ceil(n / setup.updates_per_call))  # noqa: E731
    metrics: dict = {}
    for _ in range(calls(warmup) if warmup > 0 else 0):
        metrics = setup.update()
    if metrics:
        float(next(iter(metrics.values())).sum())  # the warm-up's queued work ends before the clock starts
    n = calls(updates)
    start = time.perf_counter()
    for _ in range(n):
        metrics = setup.update()
    float(next(iter(metrics.values())).sum())     # the one sync (a stack's metrics are [S])
    return n * setup.updates_per_call / (time.perf_counter() - start)


def machine_name(device: torch.device) -> str:
    """The GPU's name on CUDA, else the CPU model from /proc/cpuinfo, with the cores this process may use."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name} ({cores} cores)"


def bench(algos: list[str] | None = None, updates: int = 200, warmup: int = 20, threads: int = 0,
          device: str = "auto", batch_size: int | None = None, compile: bool = False, cuda_graphs: bool = False,
          out: str | None = None, print_table: bool = True, seeds: int = 1) -> dict:
    """Time each algorithm's learner; print a table and return (and optionally write as JSON)
    {"machine", "device", "threads", "torch", "keelrl", "compile", "cuda_graphs", "results": [...]}.
    With seeds > 1, algorithms that train stacked seeds (`keel train --seeds`) also get a row for
    `seeds` stacked agents: updates/s of the stack, and seed-updates/s (updates/s × seeds)."""
    from keelrl.train.session import learner_update, resolve_device
    algos = list(algos) if algos else list(ALGOS)
    for name in algos:
        get_algo(name)  # an unknown name fails before anything is timed
    if updates < 1 or warmup < 0:
        raise KeelError(f"--updates must be >= 1 and --warmup >= 0, got {updates} and {warmup}")
    if batch_size is not None and batch_size < 1:
        raise KeelError(f"--batch-size must be >= 1, got {batch_size}")
    if seeds < 1:
        raise KeelError(f"--seeds must be >= 1 (the number of stacked seeds), got {seeds}")
    if seeds > 1 and cuda_graphs:
        raise KeelError("--seeds times eager or compiled stacks; --cuda-graphs captures single-seed updates")
    if threads < 0:
        raise KeelError(f"--threads must be >= 0 (0: torch's default), got {threads}")
    dev = resolve_device(device)
    skipped: dict[str, str] = {}   # algorithms a CUDA graph cannot capture, with the reason
    if cuda_graphs:
        from keelrl.train.cuda_graph import check_cuda_graphs
        for name in algos:
            try:
                check_cuda_graphs(name, get_algo(name).loop, get_algo(name).config(), dev, compile)
            except KeelError as e:
                if dev.type != "cuda" or compile:
                    raise
                skipped[name] = str(e)
    if threads > 0:
        torch.set_num_threads(threads)
    report = {"machine": machine_name(dev), "device": str(dev), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "keelrl": __version__, "compile": compile, "cuda_graphs": cuda_graphs,
              "updates": updates, "warmup": warmup, "results": []}
    for name in algos:
        if name in skipped:
            report["results"].append({"algo": name, "skipped": skipped[name]})
            continue
        setup = learner_setup(name, dev, batch_size)
        setup.learn = learner_update(setup.agent, name, setup.agent.cfg, dev, compile, cuda_graphs,
                                     update=setup.learn)
        ups = updates_per_second(setup, updates, warmup)
        cfg = setup.agent.cfg
        batch = (cfg.rollout_steps // cfg.num_minibatches) if get_algo(name).loop == "on_policy" else cfg.batch_size
        report["results"].append({"algo": name, "updates_per_s": round(ups, 2), "ms_per_update": round(1000 / ups, 3),
                                  "batch_size": batch, "hidden_sizes": list(cfg.hidden_sizes)})
        from keelrl.train.multi_seed import STACKED
        if seeds > 1 and name in STACKED:
            stack = stacked_setup(name, seeds, dev, batch_size)
            if compile:
                from keelrl.train.compiled import compile_networks
                compile_networks(stack.agent)
            ups = updates_per_second(stack, updates, warmup)
            report["results"].append({"algo": f"{name} ×{seeds} seeds", "seeds": seeds, "updates_per_s": round(ups, 2),
                                      "ms_per_update": round(1000 / ups, 3), "seed_updates_per_s": round(ups * seeds, 2),
                                      "batch_size": batch, "hidden_sizes": list(cfg.hidden_sizes)})
    if print_table:
        print_report(report)
    if out:
        from keelrl.train.checkpoint import atomic_write_text
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(json.dumps(report, indent=2) + "\n", Path(out))
    return report


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    modes = [m for m in ("compile", "cuda_graphs") if report[m]] or ["eager"]
    console = Console(highlight=False)
    console.print(f"machine: {report['machine']} | device: {report['device']} | threads: {report['threads']} | "
                  f"torch {report['torch']} | keelrl {report['keelrl']} | {' + '.join(modes)}", soft_wrap=True)
    table = Table("algo", "updates/s", "ms/update", "seed-updates/s", "batch", "hidden sizes")
    for r in report["results"]:
        if "skipped" in r:
            table.add_row(r["algo"], "-", "-", "-", "-", "-")
            continue
        table.add_row(r["algo"], f"{r['updates_per_s']:.1f}", f"{r['ms_per_update']:.2f}",
                      f"{r.get('seed_updates_per_s', r['updates_per_s']):.1f}", str(r["batch_size"]),
                      "×".join(map(str, r["hidden_sizes"])))
    console.print(table)
    for r in report["results"]:
        if "skipped" in r:
            console.print(f"{r['algo']} skipped: {r['skipped']}", soft_wrap=True)
