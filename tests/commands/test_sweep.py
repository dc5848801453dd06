"""`keel sweep`: a tiny sweep on the local pool and on a local Ray instance; a failed trial is
reported and does not stop the others; a rerun skips finished trials, retries failed ones and
resumes unfinished ones from their checkpoints."""
import json
from pathlib import Path

import shutil
import tempfile

import pytest
import yaml

from keelrl.cli import main
from keelrl.errors import KeelError
from keelrl.commands.sweep import trial_state
from keelrl.commands.sweep_spec import expand
from keelrl.train.checkpoint import read_checkpoint

OK, BAD = "sac-Pendulum-v1-critic_lr=0.001", "sac-Pendulum-v1-critic_lr=1e+30"  # 1e30 diverges at its first update


def _write_spec(tmp_path, seeds=(0, 1), lrs=(1.0e-3, 1.0e30), total_steps=300) -> Path:
    spec = {"name": "tiny", "out": str(tmp_path / "sweep"), "algos": ["sac"], "envs": ["Pendulum-v1"],
            "seeds": list(seeds), "workers": 2,
            "run": {"total_steps": total_steps, "eval_every": 300, "eval_episodes": 1, "device": "cpu"},
            "config": {"sac": {"hidden_sizes": [8, 8], "batch_size": 16, "learning_starts": 100}},
            "grid": {"sac": {"critic_lr": list(lrs)}}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _step(run_dir: Path) -> int:
    return read_checkpoint(run_dir)["loop"]["step"]


def _status(out: Path) -> dict:
    return {name: r["status"] for name, r in json.loads((out / "status.json").read_text()).items()}


def test_local_sweep_reports_failures_skips_finished_and_resumes(tmp_path, capsys):
    spec, out = _write_spec(tmp_path, seeds=(0,)), tmp_path / "sweep"
    assert main(["sweep", str(spec)]) == 1  # the diverging trial fails; the other finishes all the same
    printed = capsys.readouterr().out
    assert _status(out) == {f"{OK}-s0": "done", f"{BAD}-s0": "failed"}
    assert "sweep tiny: 1 done, 0 skipped, 1 failed" in printed
    assert f"failed {BAD}-s0: loss_pi became non-finite at step 101" in printed
    assert f"log: {out / 'logs' / f'{BAD}-s0.log'}" in printed
    run_dir = out / f"{OK}-s0"   # an ordinary run folder
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["run"]["seed"] == 0 and meta["run"]["threads"] == 1 and meta["algo_config"]["critic_lr"] == 1e-3
    assert _step(run_dir) == 300 and (run_dir / "eval.csv").exists()
    trials = json.loads((out / "trials.json").read_text())["trials"]
    assert [t["name"] for t in trials] == [f"{OK}-s0", f"{BAD}-s0"]
    kept = (out / f"{OK}-s0" / "checkpoint.pt").stat().st_mtime_ns
    assert main(["sweep", str(spec)]) == 1  # rerun: the finished trial skipped, the failed one tried again
    printed = capsys.readouterr().out
    assert f"skip     {OK}-s0  (finished at step 300)" in printed and "0 done, 1 skipped, 1 failed" in printed
    assert (out / f"{OK}-s0" / "checkpoint.pt").stat().st_mtime_ns == kept
    assert (out / "logs" / f"{BAD}-s0.log").read_text().count("--- keel sweep: trial") == 2
    spec = _write_spec(tmp_path, seeds=(0,), lrs=(1.0e-3,), total_steps=450)  # a larger budget: the trial continues
    assert main(["sweep", str(spec), "--workers", "1"]) == 0
    assert "1 done, 0 skipped, 0 failed" in capsys.readouterr().out
    assert _step(out / f"{OK}-s0") == 450
    log = (out / "logs" / f"{OK}-s0.log").read_text()
    assert "from step 300 to 450" in log
    # a batch job's log shows where the run is: a plain line per logging interval, then the summary
    assert "sac Pendulum-v1  450/450 steps (100%)" in log and "done: 450 steps, final evaluation return" in log
    assert [r.split(",")[0] for r in (out / f"{OK}-s0" / "eval.csv").read_text().split()[1:]] == ["300", "450"]


def test_bad_spec_is_one_line_and_writes_nothing(tmp_path, capsys):
    spec = _write_spec(tmp_path)
    spec.write_text(spec.read_text().replace("Pendulum-v1", "Pendulum-v0"))
    assert main(["sweep", str(spec)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("keel: error: unknown environment id 'Pendulum-v0'. Did you mean Pendulum-v1") and "\n" not in err
    assert not (tmp_path / "sweep").exists()


def test_dry_run_lists_trials_and_a_folder_of_another_run_is_refused(tmp_path, capsys):
    spec = _write_spec(tmp_path, seeds=(0,))
    sweep = expand(yaml.safe_load(spec.read_text()))
    other = Path(sweep.trials[0].run["run_dir"])
    other.mkdir(parents=True)
    (other / "config.json").write_text(json.dumps({"algo": "sac", "run": {"env": "Pendulum-v1", "seed": 0},
                                                   "algo_config": {**sweep.trials[0].config, "critic_lr": 3e-4}}))
    with pytest.raises(KeelError, match=r"holds a run with other settings \(critic_lr: 0.0003 there, 0.001 in the spec\)"):
        trial_state(sweep.trials[0])
    assert main(["sweep", str(spec), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"failed   {OK}-s0  (") and lines[1] == f"new      {BAD}-s0"
    assert not (tmp_path / "sweep" / "trials.json").exists()


@pytest.fixture
def local_ray(monkeypatch):
    """Ray that writes nothing outside the test's temporary folders: no token in ~/.ray
    (RAY_AUTH_MODE=disabled), its session files under a short temporary path (socket paths
    must stay under 107 bytes)."""
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    short = tempfile.mkdtemp(prefix="ray", dir="/tmp")   # not under pytest's (longer with xdist) temp paths
    monkeypatch.setenv("RAY_TMPDIR", short)
    home = {p: sorted(p.rglob("*")) if p.exists() else None for p in (Path.home() / ".ray", Path.home() / "ray_results")}
    yield
    ray.shutdown()
    shutil.rmtree(short, ignore_errors=True)
    assert {p: sorted(p.rglob("*")) if p.exists() else None for p in home} == home


def test_sweep_on_a_local_ray_instance(tmp_path, capsys, local_ray):
    import ray
    spec, out = _write_spec(tmp_path, seeds=(0,)), tmp_path / "sweep"
    assert main(["sweep", str(spec), "--ray"]) == 1
    printed = capsys.readouterr().out
    assert _status(out) == {f"{OK}-s0": "done", f"{BAD}-s0": "failed"}
    assert "sweep tiny: 1 done, 0 skipped, 1 failed" in printed and "loss_pi became non-finite" in printed
    assert _step(out / f"{OK}-s0") == 300
    assert (out / "ray" / "tune" / f"{OK}-s0").is_dir()  # Tune's own records stay in the sweep folder
    assert not ray.is_initialized()  # the sweep shut down the Ray it started
