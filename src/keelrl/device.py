"""The training device a run asks for."""
from __future__ import annotations

import torch

from keelrl.errors import KeelError


def resolve_device(name: str) -> torch.device:
    """auto (cuda if available, else cpu), cpu, cuda or cuda:N; a KeelError for CUDA without a CUDA build."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise KeelError(f"device {name!r} asked for, but this torch build sees no CUDA device; use --device cpu")
    return dev
