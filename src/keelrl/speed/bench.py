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
    pixel algos      cheetah-run's sizes: 64x64 frames, act 6; three stacked frames (9 channels), or
                     single frames (3) for algorithms that learn from sequences (SLAC); a slot replay
                     of 2,000 random steps. Side updates (VAE-SAC's VAE, SLAC's model) get their own row.

Sampling the batch is timed with the update, as the training loops run them. The clock starts
after a warm-up and stops after one synchronisation at the end (reading a metric), so queued
GPU work is counted and no sync inside the timed loop is added.
"""
from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from keelrl.version import __version__
from keelrl.algos import ALGOS, build_agent, get_algo
from keelrl.algos.spec import DatasetNeeds, Rollouts
from keelrl.data.synthetic import (box_spaces, discrete_spaces, filled_frame_replay, filled_replay_buffer, hybrid_spaces,
                                   pixel_spaces, random_rollout, synthetic_dataset)
from keelrl.envs.spaces import is_pixels
from keelrl.device import choose_threads, resolve_device
from keelrl.errors import KeelError
from keelrl.files import atomic_write_text
from keelrl.speed.learner import learner_update
from keelrl.speed.sac_seeds import STACKED
from keelrl.types import Spaces

FILL = 10_000
"""Random transitions in the replay buffer / dataset."""
CONTINUOUS_SIZES = (17, 6)   # HalfCheetah-v5
DISCRETE_SIZES = (4, 2)      # CartPole-v1
OFFLINE_SIZES = (11, 3)      # Hopper-v5
HYBRID_SIZES = (9, 3, 3)     # keel/Platform-v0
PIXEL_SIZES = (64, 6)        # dmc:cheetah-run: 64x64 frames, 6 actions
PIXEL_FILL = 2_000
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


def synthetic_spaces(spec) -> Spaces:
    """Spaces of the sizes in this module's docstring that `spec` accepts: Hopper's for a dataset,
    else HalfCheetah's continuous ones, else CartPole's discrete ones, else Platform's hybrid ones."""
    if spec.uses_dataset:
        candidates = [box_spaces(*OFFLINE_SIZES)]
    else:
        frames = 3 if getattr(spec.needs(spec.config()), "sequence_length", 0) else 9
        candidates = [box_spaces(*CONTINUOUS_SIZES), discrete_spaces(*DISCRETE_SIZES), hybrid_spaces(*HYBRID_SIZES),
                      pixel_spaces(frames, *PIXEL_SIZES)]
    for spaces in candidates:
        if spec.spaces(spaces, "synthetic data") is None:
            return spaces
    raise KeelError(f"keel bench has no synthetic data {spec.name} accepts (it makes flat Box observations with "
                    f"Box, Discrete or hybrid actions)")


def learner_setup(algo: str, device: torch.device | str = "cpu", batch_size: int | None = None,
                  overrides: dict | None = None, fill: int = FILL, rollout_steps: int = ROLLOUT_STEPS,
                  seed: int = 0) -> LearnerSetup:
    """`algo`'s agent with its default Config (plus `overrides`; `batch_size` through the spec's
    `with_batch_size`, PPO's minibatch size) and synthetic data on `device`, at the sizes listed in
    this module's docstring; what data it gets follows what its spec says it needs."""
    spec = get_algo(algo)
    device = torch.device(device)
    torch.manual_seed(seed)
    cfg = spec.config(**dict(overrides or {}))
    if batch_size is not None:
        cfg = spec.with_batch_size(cfg, batch_size)
    spaces = synthetic_spaces(spec)
    agent = build_agent(spec, cfg, spaces, device)
    needs = spec.needs(cfg)
    if isinstance(needs, Rollouts):
        roll = random_rollout(agent, spaces, needs.steps, device, seed)
        return LearnerSetup(algo, agent, roll, lambda: roll, lambda r: agent.update(r, 1.0),
                            needs.epochs * needs.minibatches)
    if isinstance(needs, DatasetNeeds):
        data = synthetic_dataset(spaces.obs_dim, spaces.act_dim, fill, device, seed)
        if needs.sequence_length:
            return LearnerSetup(algo, agent, data, lambda: data.sample_sequences(needs.batch_size, needs.sequence_length),
                                agent.update, 1)
    elif is_pixels(spaces.observation):
        data = filled_frame_replay(spaces, min(fill, PIXEL_FILL), device, seed, max(needs.sequence_length, 1))
        if needs.sequence_length:
            return LearnerSetup(algo, agent, data, lambda: data.sample_sequences(needs.batch_size), agent.update, 1)
    else:
        data = filled_replay_buffer(spaces, fill, device, seed, needs.policy_action_size(spaces))
    return LearnerSetup(algo, agent, data, lambda: data.sample(needs.batch_size), agent.update, 1)


def side_setups(setup: LearnerSetup) -> list[LearnerSetup]:
    """One setup per side update of the algorithm (a model trained beside the main update), on the
    same agent and data: `<algo>:<method>`."""
    spec = get_algo(setup.algo)
    needs = spec.needs(setup.agent.cfg)
    out = []
    for side in getattr(needs, "side_updates", ()):
        sample = ((lambda n=side.batch_size: setup.data.sample_sequences(n)) if getattr(needs, "sequence_length", 0)
                  else (lambda n=side.batch_size: setup.data.sample(n)))
        out.append(LearnerSetup(f"{setup.algo}:{side.method}", setup.agent, setup.data, sample,
                                getattr(setup.agent, side.method), 1))
    return out


def trainable_parameters(agent) -> int:
    """The trainable parameters of every network the agent holds (target networks excluded: they are frozen)."""
    from keelrl.speed.compiled import agent_parts
    return sum(p.numel() for net in agent_parts(agent, torch.nn.Module).values() for p in net.parameters() if p.requires_grad)


def batch_size_of(spec, cfg) -> int:
    """The samples one gradient step uses: the batch, or a rollout's minibatch (of one copy)."""
    needs = spec.needs(cfg)
    return needs.steps // needs.minibatches if isinstance(needs, Rollouts) else needs.batch_size


def stacked_setup(algo: str, seeds: int, device: torch.device | str = "cpu", batch_size: int | None = None,
                  fill: int = FILL) -> LearnerSetup:
    """`seeds` agents of `algo` stacked in one (as `keel train --seeds`), each with its own filled
    buffer; one update call is one update of every seed."""
    if algo not in STACKED:
        raise KeelError(f"--seeds times stacked seeds of {', '.join(STACKED)}, not {algo}")
    spec = get_algo(algo)
    cfg = spec.config()
    if batch_size is not None:
        cfg = spec.with_batch_size(cfg, batch_size)
    spaces, needs = synthetic_spaces(spec), spec.needs(cfg)
    agent = STACKED[algo](cfg, range(seeds), spaces, device)
    bufs = [filled_replay_buffer(spaces, fill, device, s) for s in range(seeds)]
    return LearnerSetup(algo, agent, bufs, lambda: [b.sample(needs.batch_size) for b in bufs], agent.update, 1)


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
        raise KeelError(f"--threads must be >= 0 (0: one per idle core), got {threads}")
    dev = resolve_device(device)
    skipped: dict[str, str] = {}   # algorithms a CUDA graph cannot capture, with the reason
    if cuda_graphs:
        from keelrl.speed.cuda_graph import check_cuda_graphs
        for name in algos:
            try:
                check_cuda_graphs(get_algo(name), get_algo(name).config(), dev, compile)
            except KeelError as e:
                if dev.type != "cuda" or compile:
                    raise
                skipped[name] = str(e)
    chosen, note = choose_threads(threads)
    if note is not None:
        print(f"keel: note: {note}", file=sys.stderr, flush=True)
    torch.set_num_threads(chosen)
    report = {"machine": machine_name(dev), "device": str(dev), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "keelrl": __version__, "compile": compile, "cuda_graphs": cuda_graphs,
              "updates": updates, "warmup": warmup, "results": []}
    for name in algos:
        if name in skipped:
            report["results"].append({"algo": name, "skipped": skipped[name]})
            continue
        setup = learner_setup(name, dev, batch_size)
        setup.learn = learner_update(setup.agent, get_algo(name), setup.agent.cfg, dev, compile, cuda_graphs,
                                     update=setup.learn)
        ups = updates_per_second(setup, updates, warmup)
        cfg = setup.agent.cfg
        batch = batch_size_of(get_algo(name), cfg)
        report["results"].append({"algo": name, "updates_per_s": round(ups, 2), "ms_per_update": round(1000 / ups, 3),
                                  "batch_size": batch, "parameters": trainable_parameters(setup.agent)})
        for side, spec_side in zip(side_setups(setup), getattr(get_algo(name).needs(cfg), "side_updates", ())):
            ups = updates_per_second(side, updates, warmup)
            report["results"].append({"algo": side.algo, "updates_per_s": round(ups, 2),
                                      "ms_per_update": round(1000 / ups, 3), "batch_size": spec_side.batch_size,
                                      "parameters": trainable_parameters(setup.agent)})
        if seeds > 1 and name in STACKED:
            stack = stacked_setup(name, seeds, dev, batch_size)
            if compile:
                from keelrl.speed.compiled import compile_networks
                compile_networks(stack.agent)
            ups = updates_per_second(stack, updates, warmup)
            report["results"].append({"algo": f"{name} ×{seeds} seeds", "seeds": seeds, "updates_per_s": round(ups, 2),
                                      "ms_per_update": round(1000 / ups, 3), "seed_updates_per_s": round(ups * seeds, 2),
                                      "batch_size": batch, "parameters": trainable_parameters(setup.agent)})
    if print_table:
        print_report(report)
    if out:
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
    table = Table("algo", "updates/s", "ms/update", "seed-updates/s", "batch", "parameters")
    for r in report["results"]:
        if "skipped" in r:
            table.add_row(r["algo"], "-", "-", "-", "-", "-")
            continue
        table.add_row(r["algo"], f"{r['updates_per_s']:.1f}", f"{r['ms_per_update']:.2f}",
                      f"{r.get('seed_updates_per_s', r['updates_per_s']):.1f}", str(r["batch_size"]),
                      f"{r['parameters']:,}")
    console.print(table)
    for r in report["results"]:
        if "skipped" in r:
            console.print(f"{r['algo']} skipped: {r['skipped']}", soft_wrap=True)
