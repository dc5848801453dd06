"""`--compile`: torch.compile every network an agent holds, in place.

Each nn.Module of the agent (actor, critics, their targets, value and Q networks) gets its
`forward` replaced by `torch.compile(forward)`: its forward and backward become compiled graphs,
while `update` itself, the optimizer steps and the Python control flow between them stay eager.
That is correct for every algorithm whatever it branches on, and the state_dict keys do not
change (no `_orig_mod.` prefix), so checkpoints load with or without --compile. Compiling the whole `update` instead
breaks its graph at every `backward()` and optimizer step and recompiles on the Python update
counters, and was not faster (docs/speed.md).

Exception: a network differentiated twice (EDAC's critic, whose loss holds ∇_a Q) stays eager:
torch.compile's autograd does not support double backward. An agent names such networks in
`eager_networks`.
"""
from __future__ import annotations

import torch
from torch import nn


def agent_parts(agent, kind: type) -> dict[str, object]:
    """The attributes of `agent` that are instances of `kind` (nn.Module, torch.optim.Optimizer),
    also inside the plain objects it holds (TD3's actor-critic holder `ac`, EDAC's SAC-N `core`),
    by dotted name."""
    found: dict[str, object] = {}
    seen: set[int] = set()

    def walk(obj, prefix: str) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        for name, value in vars(obj).items():
            if isinstance(value, kind):
                found[prefix + name] = value
            elif (not isinstance(value, (nn.Module, torch.optim.Optimizer, torch.Tensor))
                  and type(value).__module__.startswith("keelrl.") and hasattr(value, "__dict__")):
                walk(value, f"{prefix}{name}.")
    walk(agent, "")
    return found


RECOMPILE_LIMIT = 64
"""Compiled variants allowed per network class. One class serves several networks (a critic and its
target) called with and without gradients, with frozen or trainable weights and at several batch
sizes (CQL's sampled actions): more than torch's default of 8, after which it would fall back to
eager without saying so beyond a warning."""


def compile_networks(agent) -> list[str]:
    """Compile the forward of each network of `agent` (of the children of one without a forward of
    its own, such as PPO's policy) except its `eager_networks`; returns the names compiled."""
    import torch._dynamo
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    keep_eager = set(getattr(agent, "eager_networks", ()))
    compiled: list[str] = []

    def visit(name: str, module: nn.Module) -> None:
        if name.rsplit(".", 1)[-1] in keep_eager or "forward" in vars(module):   # eager, or compiled already
            return
        if type(module).forward is nn.Module.forward:   # a container such as PPOPolicy: its parts are called
            for child_name, child in module.named_children():
                visit(f"{name}.{child_name}", child)
            return
        # The bound forward, compiled, as an instance attribute: `module.compile()` would skip torch's own
        # modules (nn.Sequential), and torch.compile(module) would prefix the state_dict keys.
        module.forward = torch.compile(module.forward)
        compiled.append(name)
    for name, module in agent_parts(agent, nn.Module).items():
        visit(name, module)
    return compiled
