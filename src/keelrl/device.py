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


def busy_processes() -> int:
    """How many other processes are using the CPU now: the runnable processes besides this one
    (/proc/stat), or the 1-minute load average where that is higher (Linux; 0 elsewhere)."""
    import os
    running = 0
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("procs_running"):
                    running = int(line.split()[1]) - 1
                    break
    except OSError:
        pass
    try:
        load = int(os.getloadavg()[0] + 0.5)
    except OSError:
        load = 0
    return max(running, load, 0)


def choose_threads(requested: int, recorded: int | None = None) -> tuple[int, str | None]:
    """The torch CPU threads of a process and, when keelrl chose fewer than torch would, a note saying
    why. `requested` > 0 is taken as it is; `recorded` (the count a resumed run was using) is kept, so
    that a resumed run computes as it did; otherwise torch's default (one per core) on an idle
    machine, and only the cores other processes leave idle, at least one, on a busy one: torch's
    threads spin and wait for each other, so sharing a core with another process costs far more
    than the thread gains (docs/speed.md has the measured numbers)."""
    import os
    if requested > 0:
        return requested, None
    if recorded:
        return recorded, None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    default = torch.get_num_threads()
    busy = busy_processes()
    idle = max(1, cores - busy)
    if idle >= default:
        return default, None
    return idle, (f"{busy} other process{'es' if busy != 1 else ''} use{'s' if busy == 1 else ''} the CPU, so torch "
                  f"uses {idle} thread{'s' if idle != 1 else ''} (of {cores} cores); --threads N sets the number")
