"""Files of state (checkpoints, agent files) that cannot run code when they are read.

A keelrl state file is a torch zip file holding exactly three things, which `torch.load(path,
weights_only=True)` reads without running any code from the file:

    keelrl_format   the format number (FORMAT)
    json            everything that is not a tensor, as JSON text: configurations, counters, random
                    generator states, environment states; tensors and arrays appear in it as
                    {"$tensor": "7"} / {"$ndarray": "8"}, names in `tensors`
    tensors         a flat {name: tensor} mapping (numpy arrays are stored as tensors)

What goes in is checked when it is written: numbers, strings, None, booleans, tensors, numpy arrays
and scalars, and lists, tuples, dicts and deques of them. Anything else (an object, a function) is
refused with the path of the entry, so a file keelrl writes always reads back safely.

Reading refuses, with one line, any file that needs code to load (a pickle naming a class or a
function), which includes the checkpoints of keelrl before format 2, unless the caller passes
`trust_pickle=True` (the CLI's --trust-pickle): such a file can run any program when opened.
"""
from __future__ import annotations

import collections
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from keelrl.errors import KeelError
from keelrl.files import atomic_write_bytes

FORMAT = 2
TRUST_HINT = ("pass --trust-pickle (Python: trust_pickle=True) only if you trust where the file came from: "
              "opening it can run any program")


class UnsafeFile(KeelError):
    """A file that needs code to load (a general pickle), refused without trust_pickle."""


class Unstorable(KeelError):
    """A value that a state file cannot hold (an object, a function)."""


# ---- encoding: JSON plus a flat table of tensors

def encode(obj: Any) -> tuple[str, dict[str, torch.Tensor]]:
    """(JSON text, tensors) for `obj`; raises Unstorable naming the first entry it cannot hold."""
    tensors: dict[str, torch.Tensor] = {}

    def enc(v: Any, path: str) -> Any:
        if isinstance(v, np.generic):   # before float: np.float64 is a float
            if v.dtype.hasobject or v.dtype.kind in "USV":
                raise Unstorable(f"{path} is a numpy {v.dtype} scalar; a state file holds numeric values only")
            return {"$np": v.dtype.str, "v": v.item()}
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, torch.Tensor):
            name = str(len(tensors))
            tensors[name] = v.detach().cpu()
            return {"$tensor": name}
        if isinstance(v, np.ndarray):
            if v.dtype.hasobject or v.dtype.kind in "USV":
                raise Unstorable(f"{path} is a numpy array of {v.dtype}; a state file holds numeric arrays only")
            name = str(len(tensors))
            tensors[name] = torch.from_numpy(np.ascontiguousarray(v).copy())
            return {"$ndarray": name}
        if isinstance(v, tuple):
            return {"$tuple": [enc(x, f"{path}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [enc(x, f"{path}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, collections.deque):
            return {"$deque": [enc(x, f"{path}[{i}]") for i, x in enumerate(v)], "maxlen": v.maxlen}
        if isinstance(v, dict):
            if all(isinstance(k, str) and not k.startswith("$") for k in v):
                return {k: enc(x, f"{path}.{k}") for k, x in v.items()}
            return {"$items": [[enc(k, f"{path} key"), enc(x, f"{path}[{k!r}]")] for k, x in v.items()]}
        raise Unstorable(f"{path} is a {type(v).__module__}.{type(v).__qualname__}, which a keelrl state file cannot "
                         f"hold: it stores tensors, numpy arrays, numbers, strings and lists/tuples/dicts of them")

    text = json.dumps(enc(obj, "state"), separators=(",", ":"))
    return text, tensors


def decode(text: str, tensors: dict[str, torch.Tensor]) -> Any:
    """The object `encode` was given (tensors stay on the CPU)."""

    def dec(v: Any) -> Any:
        if isinstance(v, list):
            return [dec(x) for x in v]
        if not isinstance(v, dict):
            return v
        if "$tensor" in v:
            return tensors[v["$tensor"]]
        if "$ndarray" in v:
            return tensors[v["$ndarray"]].numpy()
        if "$np" in v:
            return np.dtype(v["$np"]).type(v["v"])
        if "$tuple" in v:
            return tuple(dec(x) for x in v["$tuple"])
        if "$deque" in v:
            return collections.deque((dec(x) for x in v["$deque"]), maxlen=v["maxlen"])
        if "$items" in v:
            return {_hashable(dec(k)): dec(x) for k, x in v["$items"]}
        return {k: dec(x) for k, x in v.items()}

    return dec(json.loads(text))


def _hashable(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


# ---- files

def write_state(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` as a state file, atomically (a crash leaves the previous file, never half a file)."""
    text, tensors = encode(obj)
    buffer = io.BytesIO()
    torch.save({"keelrl_format": FORMAT, "json": text, "tensors": tensors}, buffer)
    atomic_write_bytes(buffer.getvalue(), path)


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def read_state(path: str | os.PathLike, what: str = "file", trust_pickle: bool = False, mmap: bool = False) -> Any:
    """The object in the state file at `path`. A file that needs code to load is refused (UnsafeFile)
    unless `trust_pickle`, when it is read as a general pickle and returned as it was saved; a file
    that is truncated, corrupt or not a state file is a one-line KeelError. `what` names the file in
    messages ("checkpoint", "agent file"). A torch file of tensors and plain containers that is not
    in keelrl's layout (a checkpoint of keelrl 0.1 without numpy arrays in it, or someone else's file)
    is returned as loaded, safely, for the caller to check."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as e:  # noqa: BLE001  (bytes from anywhere: every parse failure is "not readable")
        found = _GLOBAL.search(str(e))
        if "Weights only load failed" not in str(e) or found is None:   # not a pickle naming code: damaged
            raise KeelError(f"{path} is truncated or corrupt, or not a keelrl {what} "
                            f"({type(e).__name__}); keelrl reads only files it wrote") from None
        if not trust_pickle:
            raise UnsafeFile(f"{path} needs code to load ({found.group(1)}), so keelrl does not open it: "
                             f"it is not a keelrl {what} of format {FORMAT} (checkpoints of keelrl 0.1 are such files); "
                             f"{TRUST_HINT}") from None
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e2:  # noqa: BLE001
            raise KeelError(f"{path} is truncated or corrupt ({type(e2).__name__}); keelrl reads only files it wrote") from None
    if (isinstance(obj, dict) and {"keelrl_format", "json", "tensors"} <= set(obj)
            and isinstance(obj["json"], str) and isinstance(obj["tensors"], dict)):
        if obj["keelrl_format"] != FORMAT:
            raise KeelError(f"{path} has keelrl file format {obj['keelrl_format']}; this keelrl reads format {FORMAT}")
        try:
            return decode(obj["json"], obj["tensors"])
        except Exception as e:  # noqa: BLE001
            raise KeelError(f"{path} is corrupt ({type(e).__name__} in its contents); keelrl reads only files it wrote") from None
    return obj   # another layout (an older keelrl's or another program's file; loaded safely unless trusted): the caller checks it
