"""One module per algorithm. The registry maps a command name to its Config, Agent, the actions it
handles and the loop that trains it."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from keelrl.algos import awac, cql, edac, iql, sac_n
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
from keelrl.algos.td3 import TD3Agent, TD3Config
from keelrl.algos.td3_bc import TD3BCAgent, TD3BCConfig
from keelrl.errors import KeelError


@dataclass(frozen=True)
class AlgoSpec:
    name: str
    config: type
    agent: type
    summary: str
    actions: Literal["continuous", "discrete", "any"]
    loop: Literal["off_policy", "on_policy", "offline"]
    presets: dict[str, dict] = field(default_factory=dict)
    """Named Config overrides for tasks where papers tune (`keel train ALGO --preset NAME`)."""


ALGOS: dict[str, AlgoSpec] = {
    "sac": AlgoSpec("sac", SACConfig, SACAgent, "Soft Actor-Critic (continuous actions)", "continuous", "off_policy"),
    "td3": AlgoSpec("td3", TD3Config, TD3Agent, "Twin Delayed DDPG (continuous actions)", "continuous", "off_policy"),
    "ddpg": AlgoSpec("ddpg", DDPGConfig, DDPGAgent, "DDPG, OurDDPG settings (continuous actions)", "continuous", "off_policy"),
    "dqn": AlgoSpec("dqn", DQNConfig, DQNAgent, "DQN, with Double / dueling / n-step options (discrete actions)", "discrete", "off_policy"),
    "ppo": AlgoSpec("ppo", PPOConfig, PPOAgent, "Proximal Policy Optimization (continuous or discrete actions)", "any", "on_policy"),
    # offline: trained on a Minari dataset (keel train ALGO --dataset ID)
    "bc": AlgoSpec("bc", BCConfig, BCAgent, "Behavior cloning (offline, deterministic or Gaussian)", "continuous", "offline"),
    "td3_bc": AlgoSpec("td3_bc", TD3BCConfig, TD3BCAgent, "TD3+BC (offline)", "continuous", "offline"),
    "cql": AlgoSpec("cql", CQLConfig, CQLAgent, "Conservative Q-Learning, CQL(H) on SAC (offline)", "continuous", "offline", cql.PRESETS),
    "iql": AlgoSpec("iql", IQLConfig, IQLAgent, "Implicit Q-Learning (offline)", "continuous", "offline", iql.PRESETS),
    "awac": AlgoSpec("awac", AWACConfig, AWACAgent, "Advantage-Weighted Actor-Critic (offline)", "continuous", "offline", awac.PRESETS),
    "sac_n": AlgoSpec("sac_n", SACNConfig, SACNAgent, "SAC-N: SAC with N critics (offline)", "continuous", "offline", sac_n.PRESETS),
    "edac": AlgoSpec("edac", EDACConfig, EDACAgent, "EDAC: SAC-N with gradient-diversified critics (offline)", "continuous", "offline", edac.PRESETS),
}


def get_algo(name: str) -> AlgoSpec:
    if name in ALGOS:
        return ALGOS[name]
    close = difflib.get_close_matches(name.lower(), list(ALGOS), n=2, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise KeelError(f"unknown algorithm {name!r}; available: {', '.join(sorted(ALGOS))}.{hint}")


def agent_args(spec: AlgoSpec, env) -> tuple:
    """Check that `env`'s spaces suit the algorithm (a KeelError naming what would suit otherwise)
    and return the sizes its Agent is built from, after the Config."""
    from keelrl.envs.make import require_continuous, require_discrete, require_flat_obs
    name = spec.name.upper()
    if spec.loop == "offline":
        return require_continuous(env, name, "a discrete-action algorithm online (DQN or PPO)")
    if spec.actions == "continuous":
        return require_continuous(env, name, "DQN or PPO")
    if spec.actions == "discrete":
        return require_discrete(env, name, "SAC, TD3, DDPG or PPO")
    return require_flat_obs(env, name), getattr(env, "single_action_space", env.action_space)


def build_agent(spec: AlgoSpec, cfg, env, device):
    return spec.agent(cfg, *agent_args(spec, env), device)


__all__ = ["ALGOS", "AlgoSpec", "get_algo", "agent_args", "build_agent", "SACAgent", "SACConfig", "TD3Agent",
           "TD3Config", "DDPGAgent", "DDPGConfig", "DQNAgent", "DQNConfig", "PPOAgent", "PPOConfig",
           "BCAgent", "BCConfig", "TD3BCAgent", "TD3BCConfig", "CQLAgent", "CQLConfig", "IQLAgent", "IQLConfig",
           "AWACAgent", "AWACConfig", "SACNAgent", "SACNConfig", "EDACAgent", "EDACConfig"]
