"""The algorithm registry: it collects each algorithm module's SPEC (algos/spec.py) and nothing else.

    get_algo("sac")              the AlgoSpec of `keel train sac`
    register_algo(spec)          add your own algorithm or variant (docs/extending.md)
    check_spaces(spec, spaces)   a one-line KeelError naming the algorithms that would accept them
    build_agent(spec, cfg, spaces, device), rebuild_agent(algo, state, device)
"""
from __future__ import annotations

import difflib
import sys

import torch

from keelrl.algos import (awac, bc, cql, curl_sac, cvae_bc, ddpg, dqn, edac, hppo, hyar, iql, mpdqn, paddpg, pdqn,
                         pixel_sac, ppo, sac, sac_n, slac, td3, td3_bc, vae_sac)
from keelrl.algos.awac import AWACAgent, AWACConfig
from keelrl.algos.bc import BCAgent, BCConfig
from keelrl.algos.cql import CQLAgent, CQLConfig
from keelrl.algos.ddpg import DDPGAgent, DDPGConfig
from keelrl.algos.dqn import DQNAgent, DQNConfig
from keelrl.algos.edac import EDACAgent, EDACConfig
from keelrl.algos.iql import IQLAgent, IQLConfig
from keelrl.algos.ppo import PPOAgent, PPOConfig
from keelrl.algos.sac import SACAgent, SACConfig
from keelrl.algos.sac_n import SACNAgent, SACNConfig
from keelrl.algos.spec import AlgoSpec, DatasetNeeds, Rollouts, Transitions, UpdateBranches
from keelrl.algos.td3 import TD3Agent, TD3Config
from keelrl.algos.td3_bc import TD3BCAgent, TD3BCConfig
from keelrl.envs.spaces import action_kind
from keelrl.errors import KeelError
from keelrl.types import Spaces

ALGOS: dict[str, AlgoSpec] = {m.SPEC.name: m.SPEC for m in (sac, td3, ddpg, dqn, ppo,
                                                            bc, td3_bc, cql, iql, awac, sac_n, edac,
                                                            pdqn, mpdqn, paddpg, hyar, hppo, cvae_bc, pixel_sac,
                                                            vae_sac, curl_sac, slac)}


def register_algo(spec: AlgoSpec, replace: bool = False) -> AlgoSpec:
    """Add `spec` to the registry (`keel train NAME`, `keel eval`, `--resume`, `keel report`, sweeps);
    records the calling module as its origin, so that run folders name the module to import again."""
    if not isinstance(spec, AlgoSpec):
        raise KeelError(f"register_algo takes an AlgoSpec, got {type(spec).__name__}")
    if spec.name in ALGOS and not replace and ALGOS[spec.name] is not spec:
        raise KeelError(f"an algorithm named {spec.name!r} is registered already; choose another name "
                        f"or pass replace=True")
    origin = sys._getframe(1).f_globals.get("__name__", "")
    if spec.origin == "keelrl" and not origin.startswith("keelrl"):
        import dataclasses
        spec = dataclasses.replace(spec, origin=origin)
    ALGOS[spec.name] = spec
    return spec


def get_algo(name: str) -> AlgoSpec:
    if name in ALGOS:
        return ALGOS[name]
    close = difflib.get_close_matches(name.lower(), list(ALGOS), n=2, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise KeelError(f"unknown algorithm {name!r}; available: {', '.join(sorted(ALGOS))}.{hint} "
                    f"(an algorithm of your own: keel --import YOUR_MODULE ...)")


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def check_spaces(spec: AlgoSpec, spaces: Spaces, source: str) -> None:
    """Raise a one-line KeelError if `spec` does not accept `spaces`, naming the registered
    algorithms that would (learning from the same kind of source first)."""
    problem = spec.spaces(spaces, source)
    if problem is None:
        return
    same = [s for s in ALGOS.values() if s.uses_dataset == spec.uses_dataset and s.spaces(spaces, source) is None]
    other = [s for s in ALGOS.values() if s.uses_dataset != spec.uses_dataset and s.spaces(spaces, source) is None]
    hint = ""
    if same or other:
        names = _either([s.name.upper() for s in (same or other)])
        where = "" if same else (" (online)" if spec.uses_dataset else " (offline, from a dataset)")
        hint = f"; for {action_kind(spaces.action)} actions use {names}{where}"
    raise KeelError(f"{spec.name.upper()} {problem}{hint}")


def build_agent(spec: AlgoSpec, cfg, spaces: Spaces, device: torch.device | str = "cpu"):
    """`spec.agent(cfg, spaces, device)`, after checking the Config's type; the agent's `algo` is the spec's name."""
    if not isinstance(cfg, spec.config):
        raise KeelError(f"{spec.name} expects a {spec.config.__name__}, got {type(cfg).__name__}")
    agent = spec.agent(cfg, spaces, torch.device(device))
    agent.algo = spec.name
    return agent


def rebuild_agent(algo: str, state: dict, device: torch.device | str = "cpu"):
    """The agent whose `state_dict()` is `state` (its Config, spaces, networks and optimizers)."""
    spec = get_algo(algo)
    agent = build_agent(spec, spec.config_from(state["config"]), Spaces.from_dict(state["spaces"]), device)
    agent.load_state_dict(state)
    return agent


__all__ = ["ALGOS", "AlgoSpec", "Transitions", "Rollouts", "DatasetNeeds", "UpdateBranches", "get_algo",
           "register_algo", "check_spaces", "build_agent", "rebuild_agent", "SACAgent", "SACConfig", "TD3Agent",
           "TD3Config", "DDPGAgent", "DDPGConfig", "DQNAgent", "DQNConfig", "PPOAgent", "PPOConfig",
           "BCAgent", "BCConfig", "TD3BCAgent", "TD3BCConfig", "CQLAgent", "CQLConfig", "IQLAgent", "IQLConfig",
           "AWACAgent", "AWACConfig", "SACNAgent", "SACNConfig", "EDACAgent", "EDACConfig"]
