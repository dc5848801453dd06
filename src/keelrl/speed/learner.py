"""The update a loop calls: the agent's own, with its networks compiled (--compile), or replayed
from CUDA graphs (--cuda-graphs)."""
from __future__ import annotations

from typing import Callable

import torch

from keelrl.algos.spec import AlgoSpec
from keelrl.speed.cuda_graph import GraphedUpdate, check_cuda_graphs, set_capturable


def learner_update(agent, spec: AlgoSpec, cfg, device: torch.device, compile: bool = False,
                   cuda_graphs: bool = False, update: Callable | None = None) -> Callable:
    """What a loop calls for one learner update: `update` (default `agent.update`), after compiling
    the agent's networks (--compile, speed/compiled.py), or replayed from CUDA graphs (--cuda-graphs,
    speed/cuda_graph.py, one graph per branch pattern the spec declares). Call it after any
    checkpoint is loaded into the agent."""
    update = update or agent.update
    if cuda_graphs:
        check_cuda_graphs(spec, cfg, device, compile)
        return GraphedUpdate(agent, update, spec.branches(cfg).periods)
    set_capturable(agent, False)  # a checkpoint of a CUDA-graph run resumed without graphs: plain optimizers
    if compile:
        from keelrl.speed.compiled import compile_networks
        compile_networks(agent)
    return update
