"""Checkpoints: written atomically (temporary file, fsync, rename), validated when read."""
from __future__ import annotations

import io
import os
import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from keelrl.errors import KeelError
from keelrl.files import atomic_write_bytes, atomic_write_text  # noqa: F401  (re-exported)

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


def atomic_torch_save(obj: dict, path: str | os.PathLike) -> None:
    """torch.save into memory, then an atomic write: a crash never leaves half a file."""
    buffer = io.BytesIO()
    torch.save({**obj, "format_version": FORMAT_VERSION}, buffer)
    atomic_write_bytes(buffer.getvalue(), path)


def keep_copy(path: str | os.PathLike, step: int) -> Path:
    """Copy the checkpoint at `path` to checkpoints/step_<step>.pt beside it, atomically."""
    path = Path(path)
    dest = path.parent / "checkpoints" / f"step_{step}.pt"
    atomic_write_bytes(path.read_bytes(), dest)
    return dest


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load a keelrl checkpoint or agent file; a missing, truncated or foreign file is a KeelError.

    Checkpoints hold pickled environment state, so (like any pickle) load only files you trust.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise KeelError(f"no checkpoint at {path}: expected a run folder holding {CHECKPOINT_NAME}, or a .pt file saved by keelrl")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise KeelError(f"{path} is truncated or not a checkpoint ({type(e).__name__}); "
                        f"keelrl reads only files it wrote with torch.save") from None
    if not isinstance(obj, dict) or obj.get("keelrl") not in ("run", "agent"):
        raise KeelError(f"{path} is not a keelrl checkpoint (a foreign file); keelrl reads only run "
                        f"checkpoints ({CHECKPOINT_NAME}) and files saved by Agent.save")
    if obj.get("format_version") != FORMAT_VERSION:
        raise KeelError(f"{path} has checkpoint format {obj.get('format_version')}, this keelrl reads format {FORMAT_VERSION}")
    return obj


def rng_state(np_rng: np.random.Generator) -> dict:
    return {"torch": torch.get_rng_state(), "numpy_global": np.random.get_state(), "python": random.getstate(),
            "np_rng": np_rng.bit_generator.state,
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict, np_rng: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy_global"])
    random.setstate(state["python"])
    np_rng.bit_generator.state = state["np_rng"]
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_agent(agent, path: str | os.PathLike) -> None:
    """Save an agent alone (config, networks, optimizers) atomically; `load_agent` rebuilds it."""
    atomic_torch_save({"keelrl": "agent", "algo": agent.algo, "agent": agent.state_dict()}, path)


def load_agent(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """Rebuild the agent saved by `save_agent`, or the one in a run folder / run checkpoint."""
    return agent_from_checkpoint(read_checkpoint(path), device)


def agent_from_checkpoint(obj: dict, device: str | torch.device = "cpu"):
    """Rebuild the agent held in an already-read checkpoint (run or agent file)."""
    from keelrl.algos import rebuild_agent
    return rebuild_agent(obj["algo"], obj["agent"], device)
