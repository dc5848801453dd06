"""Finding run folders: as given, inside a seed group (`--seeds`), or anywhere under a folder."""
from __future__ import annotations

import json
from pathlib import Path

from keelrl.errors import KeelError


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Run folders (holding config.json) as given, and the run folders found anywhere under any other
    folder given (a `--seeds` group's seeds, a sweep's trials); each once, in order."""
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            what = "is not a folder" if p.exists() else "does not exist"
            raise KeelError(f"{p} {what}; pass run folders (holding config.json) or folders that contain them")
        if (p / "config.json").exists():
            found.append(p)
            continue
        inner = sorted(c.parent for c in p.rglob("config.json") if is_keelrl_config(c))
        if not inner:
            raise KeelError(f"{p} is not a keelrl run folder (no config.json) and contains none")
        found += inner
    unique: dict[Path, Path] = {}
    for d in found:
        unique.setdefault(d.resolve(), d)
    return list(unique.values())


def is_keelrl_config(path: Path) -> bool:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "algo" in meta and "run" in meta
