"""Run folders: what keelrl may create, replace and clean, and nothing more.

Every run folder keelrl makes holds a marker, `.keelrl-run` (JSON: the keelrl version that made it,
whether it is one run or a group of seeds, and whether the run finished). `--overwrite` replaces
only a folder with that marker (or a keelrl 0.1 run folder, recognized by its config.json and by
holding nothing but the files a run writes), and only when it holds nothing keelrl did not write:
a folder with any other file is refused with one line naming it. A symbolic link is never replaced.

A new run is set up beside the old one: `plan_run_dir` checks everything without touching a file;
the caller then builds the run (environments, networks, buffers: the step that can run out of
memory); only then `RunDirPlan.create` writes the new folder under a temporary name and swaps it
in place of the old one, which is deleted last. A failure before the swap leaves the old run whole.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from keelrl.envs.make import import_module
from keelrl.envs.pixels import action_repeat_of
from keelrl.errors import KeelError
from keelrl.files import atomic_write_text
from keelrl.version import __version__

MARKER = ".keelrl-run"
CONFIG_NAME = "config.json"
RUN_FILES = frozenset({MARKER, CONFIG_NAME, "eval.csv", "train.csv", "metrics.csv", "tb", "checkpoint.pt", "checkpoint.pt.next",
                       "checkpoints", "learning_curve.png", "eval.mp4", "eval.gif", "tracking.json", "wandb"})
"""What a run folder holds when keelrl alone wrote it."""
TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{6,}\.tmp")
"""The name of a file an atomic write had not finished (files.py): `.checkpoint.pt.k3x9_a2.tmp`."""
SEED_FOLDER = re.compile(r"s\d+")


def agent_step_meta(env) -> dict:
    """What config.json records about the unit of the run's steps: `action_repeat` k when each agent
    step takes k environment steps (dmc: tasks take the papers' repeat unless told otherwise), so that
    `keel report` labels its x axis in agent steps; nothing for an environment without a repeat."""
    repeat = action_repeat_of(env)
    return {"action_repeat": repeat} if repeat > 1 else {}


def default_run_dir(algo: str, source: str, seed: int | str) -> Path:
    """runs/<algo>-<env or dataset>-s<seed>-<date>."""
    return Path("runs") / f"{algo}-{source.replace('/', '_')}-s{seed}-{datetime.now():%Y%m%d-%H%M%S}"


def read_marker(path: Path) -> dict | None:
    """The marker of a run folder (or group), or None when `path` has none (or an unreadable one)."""
    try:
        marker = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("keelrl_version") else None


def write_marker(path: Path, kind: str, **extra) -> None:
    atomic_write_text(json.dumps({"keelrl_version": __version__, "kind": kind, **extra}), path / MARKER)


def update_marker(path: Path, **changes) -> None:
    """Change entries of a folder's marker (a folder without one gets a run's)."""
    marker = {"kind": "run", **(read_marker(path) or {}), **changes}
    write_marker(path, **{k: v for k, v in marker.items() if k != "keelrl_version"})


def mark_finished(path: Path, finished: bool = True) -> None:
    """Record in the marker that the run reached its budget and wrote its curve (or that it goes on)."""
    update_marker(path, finished=finished)


def _legacy_run(path: Path) -> bool:
    """A run folder of keelrl 0.1 (before markers): a keelrl config.json, nothing but a run's files."""
    try:
        meta = json.loads((path / CONFIG_NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "keelrl_version" in meta and "algo" in meta and "run" in meta


def foreign_entries(path: Path) -> list[str]:
    """What in run folder (or seed group) `path` keelrl did not write; empty when all of it is keelrl's."""
    group = (read_marker(path) or {}).get("kind") == "seed-group" or (
        not (path / CONFIG_NAME).exists() and any(SEED_FOLDER.fullmatch(p.name) for p in path.iterdir()))
    out = []
    for p in sorted(path.iterdir()):
        if p.name in RUN_FILES or TEMPORARY.fullmatch(p.name):
            continue
        if group and SEED_FOLDER.fullmatch(p.name) and p.is_dir() and not p.is_symlink():
            if read_marker(p) is None and not _legacy_run(p):
                out.append(f"{p.name}/ (not a run folder)")
            else:
                out += [f"{p.name}/{x}" for x in foreign_entries(p)]
            continue
        out.append(p.name + ("/" if p.is_dir() else ""))
    return out


def check_replaceable(path: Path) -> None:
    """Raise KeelError unless `path` is a run folder (or seed group) keelrl made, holding only its files."""
    if path.is_symlink():
        raise KeelError(f"refusing to overwrite {path}: it is a symbolic link (to {os.readlink(path)}); "
                        f"--overwrite replaces only a run folder itself: give the folder it points to, or another --run-dir")
    if not path.is_dir():
        raise KeelError(f"refusing to overwrite {path}: it is a file, not a run folder; choose another --run-dir")
    marker = read_marker(path)
    if marker is None and not _legacy_run(path) and not (
            any(SEED_FOLDER.fullmatch(p.name) for p in path.iterdir()) and not (path / CONFIG_NAME).exists()):
        raise KeelError(f"refusing to overwrite {path}: it is not a keelrl run folder (no {MARKER} marker); "
                        f"--overwrite replaces only folders keelrl made. Choose another --run-dir")
    foreign = foreign_entries(path)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise KeelError(f"refusing to overwrite {path}: it holds files keelrl did not write ({shown}); "
                        f"move them away or choose another --run-dir")


def check_writable_location(path: Path, what: str = "run folder") -> None:
    """Raise KeelError if folder `path` is a file, lies under a file, or cannot be created or written."""
    path = Path(path)
    for parent in [path, *path.parents]:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                where = "is a file" if parent == path else f"lies under {parent}, which is a file"
                raise KeelError(f"{what} {path} {where}; give a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise KeelError(f"cannot write {what} {path}: {parent} is not writable; choose another place")
            return


@dataclass
class RunDirPlan:
    """A run folder checked and ready to be made (see the module docstring)."""

    path: Path
    replace: bool

    def create(self, files: dict[str, dict[str, str]], kind: str = "run") -> None:
        """Make the folder holding `files` ({relative folder: {name: text}}, "" the folder itself;
        every folder named gets a run marker, the top one `kind`'s), in place of the old run if
        there is one. Errors say what failed; the old run is deleted only after the swap."""
        path = self.path
        try:
            if not self.replace:
                path.mkdir(parents=True, exist_ok=True)
                self._fill(path, files, kind)
                return
            stamp = f"{os.getpid()}-{datetime.now():%H%M%S%f}"
            new, old = path.with_name(f".{path.name}.keelrl-new-{stamp}"), path.with_name(f".{path.name}.keelrl-old-{stamp}")
            new.mkdir()
            try:
                self._fill(new, files, kind)
                os.replace(path, old)
            except BaseException:
                shutil.rmtree(new, ignore_errors=True)
                raise
            os.replace(new, path)
            shutil.rmtree(old, ignore_errors=True)
            remove_swap_leftovers(path)
        except OSError as e:
            raise KeelError(f"cannot write run folder {path}: {e.strerror or e}; choose another --run-dir") from None

    @staticmethod
    def _fill(root: Path, files: dict[str, dict[str, str]], kind: str) -> None:
        for sub, named in files.items():
            folder = root / sub if sub else root
            folder.mkdir(parents=True, exist_ok=True)
            write_marker(folder, kind if not sub else "run")
            for name, text in named.items():
                atomic_write_text(text, folder / name)
        if "" not in files:
            write_marker(root, kind)


def plan_run_dir(path: Path, overwrite: bool) -> RunDirPlan:
    """Check that a run can be made at `path` without touching anything; refuse, with one line,
    a folder in use (unless `overwrite` and keelrl may replace it), a file, a path under a file,
    or a place that cannot be written."""
    check_writable_location(path)
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            if (path / CONFIG_NAME).exists() and not (path / "checkpoint.pt").exists():
                raise KeelError(f"run folder {path} holds a run that stopped before its first checkpoint; "
                                f"pass --overwrite to start it again, or choose another --run-dir")
            raise KeelError(f"run folder {path} already exists; pass --overwrite to replace it, "
                            f"--resume {path} to continue it, or choose another --run-dir")
        check_replaceable(path)
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise KeelError(f"cannot replace {path}: its parent folder {path.parent} is not writable")
        return RunDirPlan(path, replace=True)
    return RunDirPlan(path, replace=False)


def remove_temporaries(path: Path) -> list[Path]:
    """Delete what writes cut short left in run folder `path` (and its checkpoints/): the temporary
    files of atomic writes. Returns what was removed."""
    removed = []
    for folder in (path, path / "checkpoints"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if TEMPORARY.fullmatch(p.name) and p.is_file():
                p.unlink()
                removed.append(p)
    return removed + remove_swap_leftovers(path)


def remove_swap_leftovers(path: Path) -> list[Path]:
    """Delete what an --overwrite swap cut short by a kill left beside `path`, once `path` exists: the
    new run it was filling (`.NAME.keelrl-new-PID-...`) or the old run it was deleting (`-old-`),
    when the process that made it is gone."""
    removed = []
    if not path.is_dir():
        return removed   # killed between the two renames: the old run waits in its -old- folder
    for p in path.parent.glob(f".{path.name}.keelrl-*-*"):
        kind, _, rest = p.name.rpartition(".keelrl-")[2].partition("-")
        pid = rest.split("-")[0]
        if kind in ("new", "old") and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def read_run_config(run_dir: Path) -> dict:
    """A run folder's config.json, or a one-line KeelError saying why it cannot be used."""
    path = run_dir / CONFIG_NAME
    if not path.is_file():
        raise KeelError(f"{run_dir} is not a keelrl run folder (no {CONFIG_NAME})")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise KeelError(f"cannot read {path}: {e}") from None
    except ValueError as e:
        raise KeelError(f"{path} is not valid JSON ({e}); keelrl wrote it, so it was edited or damaged: "
                        f"restore it from a copy, or start the run again with --overwrite") from None
    if not (isinstance(meta, dict) and isinstance(meta.get("algo"), str) and isinstance(meta.get("run"), dict)
            and isinstance(meta.get("algo_config"), dict)):
        raise KeelError(f"{path} is not a keelrl run's config (it needs algo, run and algo_config); "
                        f"restore it from a copy, or start the run again with --overwrite")
    return meta


def adopt(run_dir: Path) -> None:
    """Give a run folder of keelrl 0.1 (no marker) its marker, once it is resumed."""
    if read_marker(run_dir) is None:
        write_marker(run_dir, "run")


def import_recorded(run_dir: str | Path) -> None:
    """Import the modules a run folder's config.json records (`imports`), before its algorithm or
    environment is looked up."""
    config = Path(run_dir) / CONFIG_NAME
    if config.exists():
        try:
            names = json.loads(config.read_text()).get("imports", [])
        except (OSError, ValueError, AttributeError):
            return   # the reader that needs the config says what is wrong with it
        for name in names if isinstance(names, list) else []:
            import_module(name, f"recorded in {config}")
