"""One module per algorithm. The registry maps a command name to its Config, Agent, the actions it
handles and the loop that trains it."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from keelrl.algos.ddpg import DDPGAgent, DDPGConfig
from keelrl.algos.dqn import DQNAgent, DQNConfig
from keelrl.algos.ppo import PPOAgent, PPOConfig
from keelrl.algos.sac import SACAgent, SACConfig
from keelrl.algos.td3 import TD3Agent, TD3Config
from keelrl.errors import KeelError


@dataclass(frozen=True)
class AlgoSpec:
    name: str
    config: type
    agent: type
    summary: str
    actions: Literal["continuous", "discrete", "any"]
    loop: Literal["off_policy", "on_policy"]


ALGOS: dict[str, AlgoSpec] = {
    "sac": AlgoSpec("sac", SACConfig, SACAgent, "Soft Actor-Critic (continuous actions)", "continuous", "off_policy"),
    "td3": AlgoSpec("td3", TD3Config, TD3Agent, "Twin Delayed DDPG (continuous actions)", "continuous", "off_policy"),
    "ddpg": AlgoSpec("ddpg", DDPGConfig, DDPGAgent, "DDPG, OurDDPG settings (continuous actions)", "continuous", "off_policy"),
    "dqn": AlgoSpec("dqn", DQNConfig, DQNAgent, "DQN, with Double / dueling / n-step options (discrete actions)", "discrete", "off_policy"),
    "ppo": AlgoSpec("ppo", PPOConfig, PPOAgent, "Proximal Policy Optimization (continuous or discrete actions)", "any", "on_policy"),
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
    if spec.actions == "continuous":
        return require_continuous(env, name, "DQN or PPO")
    if spec.actions == "discrete":
        return require_discrete(env, name, "SAC, TD3, DDPG or PPO")
    return require_flat_obs(env, name), getattr(env, "single_action_space", env.action_space)


def build_agent(spec: AlgoSpec, cfg, env, device):
    return spec.agent(cfg, *agent_args(spec, env), device)


__all__ = ["ALGOS", "AlgoSpec", "get_algo", "agent_args", "build_agent", "SACAgent", "SACConfig", "TD3Agent",
           "TD3Config", "DDPGAgent", "DDPGConfig", "DQNAgent", "DQNConfig", "PPOAgent", "PPOConfig"]
