"""MP-DQN (Bester, James & Konidaris 2019): P-DQN whose Q-network runs one pass per discrete action,
each seeing only that action's parameters (`keel train mpdqn`). It is P-DQN's Agent and losses with
one named change, `multi_pass = True` (nn/parameterized.py, ParamQNetwork); see algos/pdqn.py."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from keelrl.algos.pdqn import GOAL, PDQNAgent, PDQNConfig, needs
from keelrl.algos.spec import AlgoSpec
from keelrl.envs.spaces import hybrid_actions


@dataclass
class MPDQNConfig(PDQNConfig):
    """MP-DQN: P-DQN's settings (algos/pdqn.py), multi-pass by default."""

    multi_pass: bool = True
    """Q_k sees only its own action's parameters (False: P-DQN's single pass)."""


def mpdqn_agent(cfg: MPDQNConfig, spaces, device="cpu", losses=None) -> PDQNAgent:
    agent = PDQNAgent(cfg, spaces, device, losses)
    agent.algo = "mpdqn"
    return agent


SPEC = AlgoSpec("mpdqn", MPDQNConfig, mpdqn_agent, "Multi-pass P-DQN (hybrid actions)", "transitions",
                hybrid_actions, needs, presets={"goal": GOAL}, with_batch_size=lambda cfg, n: dataclasses.replace(cfg, batch_size=n))
