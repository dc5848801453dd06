"""One module per algorithm. The registry maps a command name to its Config and Agent."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from keelrl.algos.sac import SACAgent, SACConfig
from keelrl.errors import KeelError


@dataclass(frozen=True)
class AlgoSpec:
    name: str
    config: type
    agent: type
    summary: str


ALGOS: dict[str, AlgoSpec] = {
    "sac": AlgoSpec("sac", SACConfig, SACAgent, "Soft Actor-Critic (continuous actions)"),
}


def get_algo(name: str) -> AlgoSpec:
    if name in ALGOS:
        return ALGOS[name]
    close = difflib.get_close_matches(name.lower(), list(ALGOS), n=2, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise KeelError(f"unknown algorithm {name!r}; available: {', '.join(sorted(ALGOS))}.{hint}")


__all__ = ["ALGOS", "AlgoSpec", "get_algo", "SACAgent", "SACConfig"]
