"""Checkpoints and agent files: keelrl state files (state_file.py), which hold tensors, arrays and
plain values only, so opening one cannot run code; written atomically, checked when read.

A run checkpoint holds: what it belongs to (`identity`: algorithm, environment or dataset,
configuration hash, checked by resume against the run folder), the agent, the loop's state
(replay buffer, environment states as arrays, counters), every random generator's state, and the
run's settings. An agent file (`save_agent`) holds the algorithm and the agent.

Checkpoints of keelrl 0.1 (format 1) pickled their environments: they are read only with
`trust_pickle=True` (--trust-pickle), and their environments are converted to arrays on reading.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np
import torch

from keelrl.errors import KeelError
from keelrl.files import atomic_write_bytes, atomic_write_text  # noqa: F401  (re-exported)
from keelrl.state_file import FORMAT, read_state, write_state
from keelrl.train.run_folder import SEED_FOLDER, read_marker, update_marker

CHECKPOINT_NAME = "checkpoint.pt"
PENDING_NAME = "checkpoint.pt.next"
"""A seed's checkpoint written but not yet committed by its group (write_group_checkpoints)."""
REQUIRED = {"run": ("algo", "agent", "loop", "rng", "run_config", "algo_config"), "agent": ("algo", "agent")}
"""The entries each kind of file must have."""
VOLATILE = ("total_steps", "progress", "run_dir", "overwrite")
"""Run settings a resume may change (or that say nothing about what is trained): left out of the configuration hash."""


def config_hash(algo: str, run_config: dict, algo_config: dict) -> str:
    """A short hash of what defines a run: its algorithm, its run settings but VOLATILE, its Config."""
    run = {k: v for k, v in run_config.items() if k not in VOLATILE}
    text = json.dumps({"algo": algo, "run": run, "algo_config": algo_config}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def identity(algo: str, run_config: dict, algo_config: dict) -> dict:
    """What a checkpoint belongs to, as resume compares it with the run folder's config.json."""
    source = {"dataset": run_config["dataset"]} if "dataset" in run_config else {"env": run_config.get("env")}
    return {"algo": algo, **source, "config_hash": config_hash(algo, run_config, algo_config)}


def check_belongs(meta: dict, ckpt: dict, run_dir: Path, current_names=lambda config: config) -> None:
    """Refuse, naming what differs, a checkpoint that is not the run of run folder `run_dir` (whose
    config.json is `meta`): another algorithm, environment or dataset, or other settings.
    `current_names(config)`: the algorithm's renamed Config fields under their new names."""
    where = run_dir / CHECKPOINT_NAME
    if ckpt["keelrl"] != "run":
        raise KeelError(f"{where} is an agent file (save_agent), not a run checkpoint: a run cannot continue from it")
    plain = lambda x: json.loads(json.dumps(x, default=str))  # noqa: E731  (tuples as lists, as config.json has them)
    theirs_run, mine_run = plain(ckpt["run_config"]), plain(meta["run"])
    if ckpt["algo"] != meta["algo"]:
        raise KeelError(f"{where} is a {ckpt['algo']} checkpoint but {run_dir / 'config.json'} says {meta['algo']}: "
                        f"they belong to different runs; put back the run's own checkpoint or config.json")
    for source in ("env", "dataset"):
        if theirs_run.get(source) != mine_run.get(source):
            raise KeelError(f"{where} was trained on {source} {theirs_run.get(source)!r} but config.json says "
                            f"{mine_run.get(source)!r}: they belong to different runs; put back the run's own files")
    differ = [f"run.{k}" for k in sorted(set(theirs_run) | set(mine_run))
              if k not in VOLATILE and theirs_run.get(k) != mine_run.get(k)]
    theirs_cfg, mine_cfg = plain(current_names(ckpt["algo_config"])), plain(current_names(meta["algo_config"]))
    differ += [f"algo_config.{k}" for k in sorted(set(theirs_cfg) | set(mine_cfg)) if theirs_cfg.get(k) != mine_cfg.get(k)]
    if differ:
        k = differ[0]
        part, name = k.split(".", 1)
        a, b = ((theirs_run, mine_run) if part == "run" else (theirs_cfg, mine_cfg))
        raise KeelError(f"{where} and config.json disagree on {', '.join(differ[:4])} ({name}: {a.get(name)!r} in the "
                        f"checkpoint, {b.get(name)!r} in config.json): the folder mixes two runs' files; put back "
                        f"the run's own config.json or checkpoint")
    recorded = ckpt.get("identity", {}).get("config_hash")
    if recorded is not None and recorded != config_hash(ckpt["algo"], ckpt["run_config"], ckpt["algo_config"]):
        raise KeelError(f"{where} is damaged: its settings do not match the configuration hash recorded with them")


def write_checkpoint(obj: dict, path: str | os.PathLike) -> None:
    """Write a run checkpoint or agent file (a dict with "keelrl": "run" or "agent"), atomically."""
    write_state({**obj, "format_version": FORMAT}, path)


def commit_group(run_dirs: list[Path], base: Path, step: int) -> None:
    """The checkpoints of seeds trained together (--seeds) are committed as one: each seed's is
    first written as checkpoint.pt.next; then the group's marker records `step` (the commit), then
    each is renamed into place. After a kill at any point, `settle` leaves every seed at one step."""
    update_marker(base, kind="seed-group", committed_step=step)
    for run_dir in run_dirs:
        os.replace(run_dir / PENDING_NAME, run_dir / CHECKPOINT_NAME)


def settle(base: Path) -> None:
    """Finish (the group's marker recorded its step) or undo (it did not) a group checkpoint that a
    kill cut short."""
    committed = (read_marker(base) or {}).get("committed_step")
    for run_dir in sorted(base.iterdir()) if base.is_dir() else []:
        pending = run_dir / PENDING_NAME
        if not (SEED_FOLDER.fullmatch(run_dir.name) and pending.is_file()):
            continue
        try:
            step = read_checkpoint(pending)["loop"]["step"]
        except KeelError:
            step = None
        if step is not None and step == committed:
            os.replace(pending, run_dir / CHECKPOINT_NAME)
        else:
            pending.unlink()


def keep_copy(path: str | os.PathLike, step: int) -> Path:
    """Copy the checkpoint at `path` to checkpoints/step_<step>.pt beside it, atomically."""
    path = Path(path)
    dest = path.parent / "checkpoints" / f"step_{step}.pt"
    atomic_write_bytes(path.read_bytes(), dest)
    return dest


def read_checkpoint(path: str | os.PathLike, trust_pickle: bool = False, mmap: bool = False) -> dict:
    """Read a keelrl run checkpoint or agent file (a run folder means its checkpoint.pt). A missing,
    truncated, corrupt, incomplete or foreign file is a one-line KeelError; a file that needs code
    to load is refused unless `trust_pickle` (see the module docstring). `mmap`: tensors stay in the
    file until used (to read a counter without loading a replay buffer)."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise KeelError(f"no checkpoint at {path}: expected a run folder holding {CHECKPOINT_NAME}, or a .pt file saved by keelrl")
    if not path.is_file():
        raise KeelError(f"{path} is not a file: expected a run folder or a .pt file saved by keelrl")
    obj = read_state(path, "checkpoint", trust_pickle=trust_pickle, mmap=mmap)
    if not isinstance(obj, dict) or obj.get("keelrl") not in REQUIRED:
        raise KeelError(f"{path} is not a keelrl checkpoint (a foreign file); keelrl reads only run "
                        f"checkpoints ({CHECKPOINT_NAME}) and files saved by save_agent")
    version = obj.get("format_version")
    if version == 1:
        obj = _upgrade_format_1(obj, path, trust_pickle)
    elif version != FORMAT:
        raise KeelError(f"{path} has checkpoint format {version}; this keelrl reads formats 1 (with --trust-pickle) and {FORMAT}")
    missing = [k for k in REQUIRED[obj["keelrl"]] if k not in obj]
    if missing:
        raise KeelError(f"{path} is an incomplete keelrl checkpoint (no {', '.join(missing)}); "
                        f"use another checkpoint, or start the run again with --overwrite")
    if not isinstance(obj["agent"], dict) or not isinstance(obj["algo"], str):
        raise KeelError(f"{path} is a damaged keelrl checkpoint (its agent or algorithm entry has the wrong type)")
    return obj


def _upgrade_format_1(obj: dict, path: Path, trust_pickle: bool) -> dict:
    """A keelrl 0.1 checkpoint (read with trust): its pickled environments become array states."""
    envs = obj.get("envs")
    if envs and isinstance(envs[0], bytes):
        if not trust_pickle:   # a format-1 file that loaded without code cannot hold pickled environments
            raise KeelError(f"{path} is a damaged keelrl 0.1 checkpoint")
        obj = {**obj, "envs": [_legacy_env_state(blob) for blob in envs]}
    return {**obj, "format_version": FORMAT}


def _legacy_env_state(blob: bytes) -> dict:
    """The array state of an environment pickled by keelrl 0.1 (only with trust_pickle)."""
    import pickle

    from keelrl.envs.state import env_state
    parts = pickle.loads(blob)   # noqa: S301  (the user passed trust_pickle for this file)
    env = pickle.loads(parts["env"])  # noqa: S301
    u = env.unwrapped
    u._np_random = pickle.loads(parts["np_random"])  # noqa: S301
    if "mjdata" in parts:
        u.data = pickle.loads(parts["mjdata"])  # noqa: S301
    state = env_state(env)
    env.close()
    return state


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
    write_checkpoint({"keelrl": "agent", "algo": agent.algo, "agent": agent.state_dict()}, path)


def load_agent(path: str | os.PathLike, device: str | torch.device = "cpu", trust_pickle: bool = False):
    """Rebuild the agent saved by `save_agent`, or the one in a run folder / run checkpoint."""
    return agent_from_checkpoint(read_checkpoint(path, trust_pickle), device)


def agent_from_checkpoint(obj: dict, device: str | torch.device = "cpu"):
    """Rebuild the agent held in an already-read checkpoint (run or agent file)."""
    from keelrl.algos import rebuild_agent
    try:
        return rebuild_agent(obj["algo"], obj["agent"], device)
    except KeelError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise KeelError(f"the checkpoint's {obj['algo']} agent is damaged or from another version "
                        f"({type(e).__name__}: {str(e).splitlines()[0][:160]})") from None
