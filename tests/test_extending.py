"""keelrl extended from outside the package (docs/extending.md): a SAC variant with a Huber critic
loss (tests/extension/sac_huber.py, registered with register_algo) trains through `keel train`,
resumes, evaluates with `keel eval` in a fresh process and appears in `keel report`; an
environment of the user's own (tests/extension/reach_env.py) trains from the CLI, by `--import`
and by gymnasium's `module:EnvId`, with constructor arguments and a wrapper."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keelrl.cli import main
from keelrl.train.checkpoint import read_checkpoint

EXT = Path(__file__).parent / "extension"
SMALL = ["--total-steps", "200", "--learning-starts", "50", "--eval-every", "100", "--eval-episodes", "1",
         "--hidden-sizes", "8", "8", "--batch-size", "16", "--device", "cpu", "--no-progress"]


@pytest.fixture
def in_extension_folder(monkeypatch):
    """Work from the folder holding the user's modules, as a user runs `keel` beside them."""
    monkeypatch.chdir(EXT)
    monkeypatch.setattr(sys, "path", list(sys.path))   # keel adds the current folder; undone after the test


def test_a_variant_registered_outside_trains_resumes_evaluates_and_reports(tmp_path, in_extension_folder, capsys):
    run_dir = tmp_path / "huber"
    assert main(["--import", "sac_huber", "train", "sac_huber", "--env", "Pendulum-v1", "--run-dir", str(run_dir),
                 *SMALL]) == 0
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["algo"] == "sac_huber" and meta["imports"] == ["sac_huber"]
    from sac_huber import huber_critic_loss
    from keelrl.algos import get_algo, rebuild_agent
    agent = rebuild_agent("sac_huber", read_checkpoint(run_dir)["agent"])
    assert agent.losses["critic"] is huber_critic_loss and agent.algo == "sac_huber"
    assert get_algo("sac_huber").origin == "sac_huber"

    assert main(["train", "--resume", str(run_dir), "--total-steps", "300", "--no-progress"]) == 0
    assert read_checkpoint(run_dir)["loop"]["step"] == 300

    # a fresh interpreter knows nothing of sac_huber: keel eval imports what the run folder records
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-m", "keelrl.cli", "eval", str(run_dir), "--episodes", "1"],
                          cwd=EXT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Pendulum-v1: 1 deterministic episodes" in done.stdout

    capsys.readouterr()
    assert main(["report", str(run_dir), "--out", str(tmp_path / "report"), "--reps", "200"]) == 0
    assert "sac_huber" in (tmp_path / "report" / "table.md").read_text()


def test_an_environment_of_ones_own_trains_from_the_cli(tmp_path, in_extension_folder):
    by_import = tmp_path / "by-import"
    assert main(["--import", "reach_env", "train", "sac", "--env", "ReachTarget-v0", "--env-kwargs", "target", "-0.25",
                 "--wrappers", "reach_env:ShiftedReward", "--run-dir", str(by_import), *SMALL]) == 0
    meta = json.loads((by_import / "config.json").read_text())
    assert meta["run"]["env_kwargs"] == {"target": -0.25} and meta["imports"] == ["reach_env"]
    assert meta["run"]["wrappers"] == ["reach_env:ShiftedReward"]
    with open(by_import / "train.csv") as f:   # 20 rewards of -|x - target| ∈ [-2.25, 0], each shifted by 10
        returns = [float(line.split(",")[1]) for line in list(f)[1:]]
    assert returns and all(155.0 <= r <= 200.0 for r in returns)
    assert main(["eval", str(by_import), "--episodes", "1"]) == 0

    by_id = tmp_path / "by-id"
    assert main(["train", "sac", "--env", "reach_env:ReachTarget-v0", "--run-dir", str(by_id), *SMALL]) == 0
    assert main(["train", "--resume", str(by_id), "--total-steps", "300", "--no-progress"]) == 0
    assert read_checkpoint(by_id)["loop"]["step"] == 300


def test_a_bad_import_or_wrapper_is_one_line(tmp_path, in_extension_folder, capsys):
    assert main(["--import", "no_such_module_here", "train", "sac"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot import module 'no_such_module_here'" in err
    assert main(["train", "sac", "--env", "Pendulum-v1", "--wrappers", "gymnasium.wrappers", "--run-dir",
                 str(tmp_path / "w"), *SMALL]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "a wrapper is given as MODULE:NAME" in err
    assert not (tmp_path / "w").exists()


def test_a_sweep_finds_the_modules_it_names(tmp_path, in_extension_folder, capsys):
    import yaml
    spec = {"name": "ext", "out": str(tmp_path / "sweep"), "imports": ["sac_huber", "reach_env"],
            "algos": ["sac_huber"], "envs": ["ReachTarget-v0"], "seeds": [0],
            "run": {"total_steps": 100}, "grid": {"sac_huber": {"batch_size": [16, 32]}}}
    path = tmp_path / "ext.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["sweep", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "sac_huber-ReachTarget-v0-batch_size=16-s0" in out and "sac_huber-ReachTarget-v0-batch_size=32-s0" in out


def test_a_recorded_import_is_a_module_name_not_a_path(tmp_path, in_extension_folder, capsys):
    run_dir = tmp_path / "r"
    assert main(["train", "sac", "--env", "Pendulum-v1", "--run-dir", str(run_dir), *SMALL]) == 0
    meta = json.loads((run_dir / "config.json").read_text())
    meta["imports"] = ["../../evil"]
    (run_dir / "config.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a module name" in err
