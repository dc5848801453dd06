"""The training device a run asks for, and the memory left on it."""
from __future__ import annotations

import torch

from keelrl.errors import KeelError


def resolve_device(name: str) -> torch.device:
    """auto (cuda if available, else cpu), cpu, cuda or cuda:N; a KeelError for CUDA without a CUDA build."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise KeelError(f"device {name!r} is not a device name; use auto, cpu, cuda or cuda:N (N a number)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise KeelError(f"device {name!r} asked for, but this torch build sees no CUDA device; use --device cpu")
    return dev


def available_memory(device: torch.device | str = "cpu") -> int:
    """Bytes that can still be allocated on `device`: the CPU's MemAvailable (Linux), a CUDA device's free memory."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} PB"
