"""State files: what goes in comes out, nothing that is code goes in, and a file that needs code to
load is refused unless the caller trusts it."""
import collections
from pathlib import Path

import numpy as np
import pytest
import torch

from keelrl.errors import KeelError
from keelrl.state_file import UnsafeFile, Unstorable, read_state, write_state


class WritesAMarker:
    """A pickle payload: loading it creates the file `path` (what a hostile checkpoint would do)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_round_trip_keeps_types_and_values(tmp_path):
    value = {"t": torch.arange(6, dtype=torch.float64).reshape(2, 3), "a": np.arange(4, dtype=np.uint32),
             "b": np.array([True, False]), "f32": np.float32(0.1), "i64": np.int64(-3), "f64": np.float64(2.5),
             "tuple": (1, 2.5, None, "x"), "ints": {3: "three", (1, 2): "pair"}, "big": 2 ** 127 + 1,
             "floats": [float("inf"), -0.0, 1e-300], "deque": collections.deque([1, 2], maxlen=3), "$odd": 1,
             "empty": np.zeros((0, 3), np.float32)}
    write_state(value, tmp_path / "s.pt")
    back = read_state(tmp_path / "s.pt")
    assert torch.equal(back["t"], value["t"]) and back["t"].dtype == torch.float64
    assert back["a"].dtype == np.uint32 and np.array_equal(back["a"], value["a"])
    assert back["b"].dtype == np.bool_ and back["empty"].shape == (0, 3)
    assert type(back["f32"]) is np.float32 and back["f32"] == value["f32"]
    assert type(back["i64"]) is np.int64 and type(back["f64"]) is np.float64
    assert back["tuple"] == value["tuple"] and isinstance(back["tuple"], tuple)
    assert back["ints"] == value["ints"] and back["big"] == value["big"] and back["$odd"] == 1
    assert back["floats"][0] == float("inf") and str(back["floats"][1]) == "-0.0" and back["floats"][2] == 1e-300
    assert back["deque"] == value["deque"] and back["deque"].maxlen == 3
    # torch's own weights-only loader opens it too: nothing in it needs code
    raw = torch.load(tmp_path / "s.pt", weights_only=True)
    assert set(raw) == {"keelrl_format", "json", "tensors"}


def test_code_cannot_be_written(tmp_path):
    with pytest.raises(Unstorable, match=r"state.env is a .*Pendulum.*cannot hold"):
        import gymnasium as gym
        write_state({"env": gym.make("Pendulum-v1").unwrapped}, tmp_path / "s.pt")
    with pytest.raises(Unstorable, match=r"state.x\[1\] is a builtins.builtin_function_or_method"):
        write_state({"x": [1, print]}, tmp_path / "s.pt")
    assert not (tmp_path / "s.pt").exists() and not list(tmp_path.iterdir())


def test_a_file_that_needs_code_is_refused_unless_trusted(tmp_path):
    marker = tmp_path / "marker"
    torch.save({"weights": torch.zeros(2), "x": WritesAMarker(marker)}, tmp_path / "evil.pt")
    with pytest.raises(UnsafeFile, match=r"needs code to load \(io.open\).*--trust-pickle.*run any program"):
        read_state(tmp_path / "evil.pt")
    assert not marker.exists()
    read_state(tmp_path / "evil.pt", trust_pickle=True)   # the user said they trust it: the payload runs
    assert marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "text"])
def test_damaged_files_are_one_line_errors(tmp_path, damage):
    path = tmp_path / "s.pt"
    write_state({"a": np.arange(1000.0), "b": list(range(50))}, path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        for i in range(200, len(data), 97):
            data[i] ^= 0xFF
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(b"hello, not a checkpoint\n")
    path.write_bytes(bytes(data))
    with pytest.raises(KeelError) as e:
        read_state(path, "checkpoint")
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_a_foreign_plain_torch_file_is_returned_for_the_caller_to_check(tmp_path):
    torch.save({"state_dict": {"w": torch.ones(1)}}, tmp_path / "other.pt")
    assert set(read_state(tmp_path / "other.pt")) == {"state_dict"}
