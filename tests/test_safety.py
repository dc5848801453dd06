"""keelrl used as a hostile or careless user would: a checkpoint carrying code in every entry point
that opens one, signals, a full disk, and the inputs that used to end in a traceback. Each gets one
line saying what is wrong and what is allowed, runs nothing from a file, and loses nothing."""
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from keelrl import load_agent
from keelrl.cli import main
from keelrl.errors import KeelError
from keelrl.train.checkpoint import read_checkpoint, write_checkpoint
from tests.cli_lines import TINY, err_line


class WritesAMarker:
    """Loading this pickle creates the file `path`: what a hostile checkpoint does, silently."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _poison(checkpoint: Path, marker: Path) -> None:
    """A normal checkpoint with the payload added beside its entries, saved as a general pickle."""
    raw = torch.load(checkpoint, weights_only=True)
    torch.save({**raw, "extra": WritesAMarker(marker)}, checkpoint)


def test_a_checkpoint_carrying_code_runs_nowhere(tmp_path, trained, capsys, minari_root):
    marker = tmp_path / "payload-ran"
    _poison(trained / "checkpoint.pt", marker)
    entry_points = [
        ["eval", str(trained), "--episodes", "1"],
        ["eval", str(trained / "checkpoint.pt"), "--episodes", "1"],
        ["train", "--resume", str(trained), "--total-steps", "200"],
        ["collect", "--name", "test/x/expert-v0", "--kind", "expert", "--policy", str(trained), "--steps", "10"],
    ]
    for args in entry_points:
        assert main(args) == 1, args
        assert "needs code to load (io.open), so keelrl does not open it" in err_line(capsys)
    with pytest.raises(KeelError, match="needs code to load"):
        load_agent(trained)
    assert not marker.exists()
    # trusted explicitly, the file opens (and, as the help says, its code runs)
    assert main(["eval", str(trained), "--episodes", "1", "--trust-pickle"]) == 0
    assert marker.exists()


def test_sweep_dry_run_opens_no_checkpoint_that_carries_code(tmp_path, capsys):
    out = tmp_path / "sweep"
    spec = {"name": "one", "out": str(out), "algos": ["sac"], "envs": ["Pendulum-v1"], "seeds": [0], "workers": 1,
            "run": {"total_steps": 100, "eval_every": 0, "eval_episodes": 1, "device": "cpu", "checkpoint_every": 60},
            "config": {"sac": {"hidden_sizes": [8, 8], "batch_size": 16, "learning_starts": 50}}}
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["sweep", str(path)]) == 0
    run_dir = next(p for p in out.iterdir() if (p / "checkpoint.pt").exists())
    marker = tmp_path / "payload-ran"
    _poison(run_dir / "checkpoint.pt", marker)
    capsys.readouterr()
    assert main(["sweep", str(path), "--dry-run"]) == 0
    assert "needs code to load" in capsys.readouterr().out and not marker.exists()


def _keel(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "keelrl.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, **kw)


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_checkpoints_and_exits_with_its_code(tmp_path, signum, code):
    run_dir = tmp_path / "run"
    args = [a for a in TINY if a not in ("120",)]
    args[args.index("--total-steps") + 1:args.index("--total-steps") + 1] = ["1000000"]
    proc = _keel("train", "sac", "--env", "Pendulum-v1", "--run-dir", str(run_dir), *args)
    deadline = time.monotonic() + 120
    while not (run_dir / "metrics.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "checkpoint saved. Continue with: keel train --resume" in err
    assert read_checkpoint(run_dir)["loop"]["step"] > 0


def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(tmp_path):
    """Files larger than 63 kB cannot be written (RLIMIT_FSIZE, as a full disk would refuse them): the
    checkpoint at step 200 fits (59 kB), the one at 400 does not (67 kB)."""
    run_dir = tmp_path / "run"

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (63_000, 63_000))

    proc = _keel("train", "sac", "--env", "Pendulum-v1", "--run-dir", str(run_dir), "--total-steps", "2000",
                 "--checkpoint-every", "200", "--eval-every", "0", "--eval-episodes", "1", "--hidden-sizes", "8", "8",
                 "--batch-size", "16", "--learning-starts", "50", "--buffer-size", "5000", "--no-progress",
                 "--device", "cpu", "--seed", "0", preexec_fn=limit)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert len(err.strip().splitlines()) == 1 and "File too large" in err and "the last one written is intact" in err
    assert read_checkpoint(run_dir)["loop"]["step"] == 200
    assert not list(run_dir.glob(".*.tmp"))


def test_nan_weights_are_never_saved_as_a_good_checkpoint(tmp_path):
    """The losses can still be finite on the update that broke the weights: the checkpoint check sees it."""
    from keelrl import RunConfig, train
    from keelrl.algos.sac import SACConfig
    from keelrl.train.skeleton import TrainingDiverged

    def break_weights(view):
        if view.step == 150:
            with torch.no_grad():
                next(view.agent.actor.parameters()).fill_(float("nan"))
            return True   # stop: the skeleton writes a checkpoint now
        return False

    class Breaker:
        def on_step(self, view):
            return break_weights(view)

    run = RunConfig(env="Pendulum-v1", total_steps=300, eval_every=0, eval_episodes=1, checkpoint_every=100,
                    run_dir=str(tmp_path / "r"), progress=False, device="cpu", seed=0)
    with pytest.raises(TrainingDiverged, match=r"agent.actor.* holds NaN or inf at step 150; training stopped without "
                                               r"writing a checkpoint, and the last good checkpoint, at step 100"):
        train("sac", run, SACConfig(hidden_sizes=(8, 8), learning_starts=50, batch_size=16), callback=Breaker())
    assert read_checkpoint(tmp_path / "r")["loop"]["step"] == 100


def test_inputs_that_used_to_end_in_a_traceback(tmp_path, trained, capsys):
    def one_line(args, message, code=1):
        assert main(args) == code, args
        line = err_line(capsys)
        assert message in line, line

    (tmp_path / "afile").write_text("x")
    one_line(["train", "sac", "--run-dir", str(tmp_path / "afile"), *TINY], "is a file")
    one_line(["train", "sac", "--run-dir", str(tmp_path / "afile" / "run"), *TINY], "which is a file")
    one_line(["train", "sac", "--run-dir", "/proc/keel-run", *TINY], "cannot write run folder /proc/keel-run")
    one_line(["train", "sac", *TINY, "--device", "cuda:abc", "--run-dir", str(tmp_path / "d")], "'cuda:abc' is not a device name")
    one_line(["eval", str(trained), "--env", "InvertedPendulum-v5", "--episodes", "1"],
             "InvertedPendulum-v5 has observations [4], actions Box [1], but the agent was trained with observations [3]")
    write_checkpoint({"keelrl": "run", "algo": "sac"}, tmp_path / "partial.pt")
    one_line(["eval", str(tmp_path / "partial.pt")], "is an incomplete keelrl checkpoint (no agent, loop")
    flipped = bytearray((trained / "checkpoint.pt").read_bytes())
    for i in range(300, len(flipped), 101):
        flipped[i] ^= 0xFF
    (tmp_path / "flipped.pt").write_bytes(bytes(flipped))
    one_line(["eval", str(tmp_path / "flipped.pt")], "is truncated or corrupt")
    one_line(["plot", str(trained), "--out", str(tmp_path / "p.xyz")], "the file name must end in one of")
    (trained / "eval.csv").write_text("step,eval_return_mean\n60,abc\n")
    one_line(["plot", str(trained), "--out", str(tmp_path / "p.png")], "eval.csv is not a keelrl eval.csv")
    (trained / "config.json").write_text("{broken")
    one_line(["eval", str(trained), "--episodes", "1"], "config.json is not valid JSON")
    one_line(["train", "--resume", str(trained)], "config.json is not valid JSON")
    one_line(["train", "dqn", "--env", "CartPole-v1", "--n-step", "100000000", "--run-dir", str(tmp_path / "n")],
             "n_step must be between 1 and 1000")


def test_seeds_beyond_memory_are_refused_before_any_folder(tmp_path, capsys):
    base = tmp_path / "many"
    t0 = time.monotonic()
    assert main(["train", "sac", "--env", "Pendulum-v1", "--seeds", "0-100000", "--run-dir", str(base), *TINY]) == 1
    line = err_line(capsys)
    assert "--seeds 0-100000 asks for 100,001 seeds" in line and "at most" in line
    assert not base.exists() and time.monotonic() - t0 < 30


def test_sweep_out_that_is_a_file_or_unwritable(tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    # a file: refused by the dry run too; a folder the system will not create (root passes any permission check)
    for out, message, modes in ((tmp_path / "taken", "is a file", (["--dry-run"], [])),
                                ("/proc/keel-sweep", "/proc/keel-sweep", ([],))):
        spec = {"name": "s", "out": str(out), "algos": ["sac"], "envs": ["Pendulum-v1"], "seeds": [0],
                "run": {"total_steps": 100}}
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(spec))
        for extra in modes:
            assert main(["sweep", str(path), *extra]) == 1
            assert message in err_line(capsys)


def test_a_run_folder_cannot_get_a_module_beside_it_imported(tmp_path, trained, capsys, monkeypatch):
    """Unpacked beside a module of its own, a shared run folder that records that module as an import
    does not get it imported: names read from files come from installed packages only."""
    marker = tmp_path / "payload-ran"
    (tmp_path / "beside_the_run.py").write_text(f"open({str(marker)!r}, 'w')\n")
    meta = json.loads((trained / "config.json").read_text())
    (trained / "config.json").write_text(json.dumps({**meta, "imports": ["beside_the_run"]}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    for args in (["eval", str(trained), "--episodes", "1"], ["train", "--resume", str(trained), "--total-steps", "200"]):
        assert main(args) == 1
        assert "'beside_the_run' (recorded in" in (line := err_line(capsys)) and "keel --import beside_the_run" in line
    assert not marker.exists()
