"""`--cuda-graphs`: a whole `agent.update` captured once as a CUDA graph, then replayed.

A replay launches the update's hundreds of small kernels (forward, backward and Adam step of every
network) as one graph, which removes their launch cost: with the small networks of RL that cost,
not the arithmetic, bounds a GPU learner. A capture records the GPU work of one update and nothing
the update does on the host, so:

- the batch is copied into static input tensors before each replay;
- the host's update counter (`num_updates`) is advanced after each replay, and an update that
  branches on it (TD3's `policy_delay`, SAC's and DQN's `target_update_period`) gets one graph per
  branch: the algorithm's spec declares the periods (`AlgoSpec.branches`), and `branch_key` says
  which periodic steps the next update takes;
- a metric the update passes through from an earlier update instead of computing (TD3's loss_pi
  between actor steps) is reported as the last value computed;
- Adam is made capturable (its step count lives on the GPU; `set_capturable`).

Host-side work an update does otherwise cannot be replayed, and is refused (`check_cuda_graphs`,
with the reason the spec gives in `UpdateBranches.not_capturable`): PPO's update (a whole rollout:
a Python loop over shuffled minibatches and an annealed learning rate) and IQL's cosine
learning-rate schedule. Random numbers drawn in the update (SAC's actions,
TD3's smoothing noise) come from the default CUDA generator, which graphs replay with fresh offsets.
"""
from __future__ import annotations

from typing import Callable

import torch

from keelrl.algos.spec import AlgoSpec
from keelrl.errors import KeelError
from keelrl.speed.compiled import agent_parts
from keelrl.types import Batch

BATCH_FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "discount")


def check_cuda_graphs(spec: AlgoSpec, cfg, device: torch.device, compile: bool = False) -> None:
    """Raise a one-line KeelError if the update of `spec`'s algorithm cannot be captured on `device`."""
    if device.type != "cuda":
        raise KeelError(f"--cuda-graphs needs a CUDA device, and this run's device is {device}: "
                        f"use --device cuda on a GPU machine, or drop --cuda-graphs")
    if compile:
        raise KeelError("--compile and --cuda-graphs cannot be combined yet: choose one")
    reason = spec.branches(cfg).not_capturable
    if reason is not None:
        raise KeelError(f"--cuda-graphs captures one update on one batch, and {reason}")


def branch_key(agent, periods: tuple[int, ...]) -> tuple[bool, ...]:
    """For each period p the spec declares, whether the next update is one of every p:
    (num_updates + 1) % p == 0, as each algorithm counts the update before testing."""
    n = agent.num_updates + 1
    return tuple(n % p == 0 for p in periods)


def set_capturable(agent, capturable: bool = True) -> None:
    """Set `capturable` on every optimizer of `agent` (its step counts then live on the parameters'
    device). A checkpoint records the flag: a run resumed without CUDA graphs turns it off again."""
    for opt in agent_parts(agent, torch.optim.Optimizer).values():
        for group in opt.param_groups:
            group["capturable"] = capturable
            for p in group["params"] if capturable else ():
                state = opt.state.get(p, {})
                if "step" in state and state["step"].device != p.device:
                    state["step"] = state["step"].to(p.device, torch.float32)


def _counter_owner(agent):
    """The object whose `num_updates` attribute counts the updates (the agent, or TD3's `ac`, EDAC's `core`)."""
    if "num_updates" in vars(agent):
        return agent
    for value in vars(agent).values():
        if hasattr(value, "__dict__") and "num_updates" in vars(value):
            return value
    raise KeelError(f"{type(agent).__name__} keeps no num_updates counter; it cannot be replayed from a CUDA graph")


class GraphedUpdate:
    """Callable like `agent.update(batch)`: the first `warmup` calls run eagerly on a side stream
    (as capture requires: cuBLAS workspaces and optimizer state exist before it), then each branch
    pattern is captured the first time it comes and replayed afterwards. Returns the metrics as
    fresh tensors. Load any state into the agent before the first call: a graph reads and writes the
    tensors that existed when it was captured."""

    def __init__(self, agent, update: Callable[[Batch], dict] | None = None, periods: tuple[int, ...] = (),
                 warmup: int = 3) -> None:
        self.agent, self.update, self.periods = agent, update or agent.update, tuple(periods)
        self.counter = _counter_owner(agent)
        set_capturable(agent)
        self.warmup = warmup
        self.static: Batch | None = None
        self.graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, dict, set]] = {}
        self.last_raw: dict[str, torch.Tensor] = {}     # what `update` itself returned last time
        self.latest: dict[str, torch.Tensor] = {}       # what this wrapper returned last time

    def __call__(self, batch: Batch) -> dict[str, torch.Tensor]:
        with torch.cuda.device(self.agent.device):   # capture and replay on the agent's GPU (cuda:N)
            return self._update(batch)

    def _update(self, batch: Batch) -> dict[str, torch.Tensor]:
        if self.warmup > 0:
            self.warmup -= 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.update(batch)
            torch.cuda.current_stream().wait_stream(side)
            self.last_raw, self.latest = out, dict(out)
            return out
        self._load(batch)
        key = branch_key(self.agent, self.periods)
        if key not in self.graphs:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = self.update(self.static)           # advances the counter once, on the host
            passed_through = {k for k, v in out.items() if any(v is old for old in self.last_raw.values())}
            self.graphs[key] = (graph, out, passed_through)
        else:
            graph, out, passed_through = self.graphs[key]
            self.counter.num_updates += 1
        graph.replay()
        self.last_raw = out
        self.latest = {k: self.latest[k] if k in passed_through else v.clone() for k, v in out.items()}
        return dict(self.latest)

    def _load(self, batch: Batch) -> None:
        """Copy the batch into the static inputs the graphs read (made from the first batch)."""
        if self.static is None:
            self.static = Batch(*(None if getattr(batch, f) is None else getattr(batch, f).clone()
                                  for f in BATCH_FIELDS))
            return
        for f in BATCH_FIELDS:
            src, dst = getattr(batch, f), getattr(self.static, f)
            if (src is None) != (dst is None) or (src is not None and src.shape != dst.shape):
                raise KeelError(f"a CUDA-graphed update needs batches of one shape; Batch.{f} changed to "
                                f"{None if src is None else tuple(src.shape)}")
            if src is not None:
                dst.copy_(src, non_blocking=True)
