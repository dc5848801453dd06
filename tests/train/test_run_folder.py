"""Run folders: --overwrite replaces only what keelrl made, and only once the new run is built;
nothing the user put anywhere is deleted; what a kill leaves behind is cleaned up or finished."""
import json
import os

import pytest

from keelrl.algos.sac import SACConfig
from keelrl.errors import KeelError
from keelrl.train.checkpoint import read_checkpoint, write_checkpoint
from keelrl.train.config import RunConfig
from keelrl.train.dispatch import resume, train
from keelrl.train.run_folder import MARKER, read_marker


def _cfg(**kw):
    return SACConfig(hidden_sizes=(8, 8), batch_size=16, learning_starts=50, buffer_size=2000, **kw)


def _run(path, total=100, **kw):
    return RunConfig(env="Pendulum-v1", total_steps=total, eval_every=0, eval_episodes=1, log_every=50,
                     checkpoint_every=10_000, run_dir=str(path), progress=False, device="cpu", seed=0, **kw)


def test_a_new_run_is_marked_and_finished(tmp_path):
    run_dir = train("sac", _run(tmp_path / "r"), _cfg())
    marker = read_marker(run_dir)
    assert marker["kind"] == "run" and marker["finished"] is True and marker["keelrl_version"]


def test_config_records_the_environment_steps_of_an_agent_step(tmp_path):
    """An action repeat is recorded for keel report's x axis, for one run and for stacked seeds; a run
    without one records nothing new."""
    meta = lambda d: json.loads((d / "config.json").read_text())  # noqa: E731
    assert "action_repeat" not in meta(train("sac", _run(tmp_path / "plain", total=60), _cfg()))
    repeated = _run(tmp_path / "repeated", total=60, env_kwargs={"action_repeat": 3})
    assert meta(train("sac", repeated, _cfg()))["action_repeat"] == 3
    group = train("sac", _run(tmp_path / "group", total=60, env_kwargs={"action_repeat": 2}, seeds="0,1"), _cfg())
    assert meta(group / "s1")["action_repeat"] == 2


def test_overwrite_never_deletes_a_folder_keelrl_did_not_make(tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print('mine')\n")
    (project / "config.json").write_text('{"name": "my project"}')
    with pytest.raises(KeelError, match=f"refusing to overwrite {project}: it is not a keelrl run folder"):
        train("sac", _run(project, overwrite=True), _cfg())
    assert (project / "src" / "main.py").read_text() == "print('mine')\n"


def test_overwrite_refuses_a_run_holding_files_keelrl_did_not_write(tmp_path):
    run_dir = train("sac", _run(tmp_path / "r"), _cfg())
    (run_dir / "notes.md").write_text("my notes")
    with pytest.raises(KeelError, match=r"holds files keelrl did not write \(notes.md\)"):
        train("sac", _run(run_dir, overwrite=True), _cfg())
    assert (run_dir / "notes.md").exists() and (run_dir / "checkpoint.pt").exists()


def test_overwrite_refuses_a_symlink_a_file_and_a_path_under_a_file(tmp_path):
    real = train("sac", _run(tmp_path / "real"), _cfg())
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(KeelError, match="symbolic link"):
        train("sac", _run(tmp_path / "link", overwrite=True), _cfg())
    (tmp_path / "afile").write_text("x")
    with pytest.raises(KeelError, match="is a file"):
        train("sac", _run(tmp_path / "afile", overwrite=True), _cfg())
    with pytest.raises(KeelError, match="lies under .*afile, which is a file"):
        train("sac", _run(tmp_path / "afile" / "run"), _cfg())
    assert (real / "checkpoint.pt").exists() and (tmp_path / "afile").read_text() == "x"


def test_overwrite_keeps_the_old_run_when_the_new_one_cannot_be_built(tmp_path):
    run_dir = train("sac", _run(tmp_path / "r"), _cfg())
    before = sorted(p.name for p in run_dir.iterdir())
    with pytest.raises(KeelError, match=r"a replay buffer of 1,000,000,000,000 transitions needs .* available"):
        train("sac", _run(run_dir, overwrite=True), SACConfig(hidden_sizes=(8, 8), buffer_size=10**12))
    assert sorted(p.name for p in run_dir.iterdir()) == before
    assert read_checkpoint(run_dir)["loop"]["step"] == 100
    assert not [p for p in tmp_path.iterdir() if "keelrl-" in p.name]   # no staging folder left behind


def test_overwrite_replaces_a_keelrl_run_and_a_run_of_keelrl_0_1(tmp_path):
    run_dir = train("sac", _run(tmp_path / "r"), _cfg())
    train("sac", _run(run_dir, total=60, overwrite=True), _cfg())
    assert read_checkpoint(run_dir)["loop"]["step"] == 60
    (run_dir / MARKER).unlink()   # a folder of keelrl 0.1: no marker, a keelrl config.json, only a run's files
    train("sac", _run(run_dir, total=80, overwrite=True), _cfg())
    assert read_checkpoint(run_dir)["loop"]["step"] == 80 and read_marker(run_dir)["kind"] == "run"


def test_resume_cleans_temporary_files_of_a_killed_write(tmp_path):
    run_dir = train("sac", _run(tmp_path / "r"), _cfg())
    for name in (".checkpoint.pt.a1b2c3d4.tmp", ".eval.csv.zz9_x8y7.tmp"):
        (run_dir / name).write_bytes(b"\0" * 1000)   # what kill -9 during an atomic write leaves
    resume(run_dir, total_steps=120)
    assert not list(run_dir.glob(".*.tmp")) and read_checkpoint(run_dir)["loop"]["step"] == 120


def test_a_failed_resume_changes_nothing(tmp_path):
    run_dir = train("sac", _run(tmp_path / "r"), _cfg())
    ckpt = read_checkpoint(run_dir)
    ckpt["envs"][0]["layers"][0]["class"] = "SomethingElse"   # damaged: the run cannot be rebuilt from it
    write_checkpoint(ckpt, run_dir / "checkpoint.pt")
    config, marker = (run_dir / "config.json").read_text(), (run_dir / MARKER).read_text()
    with pytest.raises(KeelError, match="the checkpoint's environment is wrapped as SomethingElse"):
        resume(run_dir, total_steps=200)
    assert (run_dir / "config.json").read_text() == config   # still total_steps 100: report pools it as before
    assert (run_dir / MARKER).read_text() == marker


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    sac = train("sac", _run(tmp_path / "sac"), _cfg())
    from keelrl.algos.dqn import DQNConfig
    dqn = train("dqn", RunConfig(env="CartPole-v1", total_steps=60, eval_every=0, eval_episodes=1, run_dir=str(tmp_path / "dqn"),
                                 progress=False, device="cpu"), DQNConfig(hidden_sizes=(8,), learning_starts=20, buffer_size=500))
    config = (sac / "config.json").read_text()
    (sac / "checkpoint.pt").write_bytes((dqn / "checkpoint.pt").read_bytes())
    with pytest.raises(KeelError, match=r"is a dqn checkpoint but .*config.json says sac: they belong to different runs"):
        resume(sac, total_steps=200)
    assert (sac / "config.json").read_text() == config


def test_resume_refuses_an_edited_config(tmp_path):
    run_dir = train("sac", _run(tmp_path / "r"), _cfg())
    meta = json.loads((run_dir / "config.json").read_text())
    meta["algo_config"]["gamma"] = 0.5
    (run_dir / "config.json").write_text(json.dumps(meta))
    with pytest.raises(KeelError, match=r"disagree on algo_config.gamma \(gamma: 0.99 in the checkpoint, 0.5 in config.json\)"):
        resume(run_dir, total_steps=200)
    meta["algo"] = "td3"
    (run_dir / "config.json").write_text(json.dumps(meta))
    with pytest.raises(KeelError, match="is a sac checkpoint but .*config.json says td3"):
        resume(run_dir, total_steps=200)
    (run_dir / "config.json").write_text("{not json")
    with pytest.raises(KeelError, match="config.json is not valid JSON"):
        resume(run_dir, total_steps=200)


def test_a_run_killed_after_its_final_checkpoint_finishes_on_resume(tmp_path):
    run_dir = train("sac", _run(tmp_path / "r"), _cfg())
    (run_dir / "learning_curve.png").unlink()   # killed after the final checkpoint, before the curve
    marker = read_marker(run_dir)
    (run_dir / MARKER).write_text(json.dumps({**marker, "finished": False}))
    assert resume(run_dir) == run_dir
    assert (run_dir / "learning_curve.png").exists() and read_marker(run_dir)["finished"] is True
    with pytest.raises(KeelError, match="already at step 100 of 100"):
        resume(run_dir)


def test_resume_before_the_first_checkpoint_points_to_overwrite(tmp_path):
    run_dir = train("sac", _run(tmp_path / "r"), _cfg())
    (run_dir / "checkpoint.pt").unlink()   # as after a kill before the first checkpoint
    with pytest.raises(KeelError, match="stopped before its first checkpoint.*--overwrite"):
        resume(run_dir)
    with pytest.raises(KeelError, match="stopped before its first checkpoint; pass --overwrite"):
        train("sac", _run(run_dir), _cfg())


def test_leftovers_of_a_swap_cut_short_are_removed(tmp_path):
    run_dir = train("sac", _run(tmp_path / "r"), _cfg())
    dead = 2 ** 22 + 12345   # above Linux's default pid_max: no such process
    for kind in ("new", "old"):
        (tmp_path / f".r.keelrl-{kind}-{dead}-120000000000").mkdir()
    (tmp_path / f".r.keelrl-new-{os.getpid()}-120000000000").mkdir()   # a swap in progress: left alone
    train("sac", _run(run_dir, total=60, overwrite=True), _cfg())
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".r.keelrl-new-{os.getpid()}-120000000000", "r"]


def test_overwrite_of_a_seed_group(tmp_path):
    base = tmp_path / "g"
    train("sac", _run(base, seeds="0-2"), _cfg())
    assert read_marker(base)["kind"] == "seed-group"
    train("sac", _run(base, total=60, seeds="0-1", overwrite=True), _cfg())
    assert sorted(p.name for p in base.iterdir()) == [MARKER, "learning_curve.png", "s0", "s1"]
    (base / "s0" / "notes.md").write_text("mine")
    with pytest.raises(KeelError, match=r"holds files keelrl did not write \(s0/notes.md\)"):
        train("sac", _run(base, seeds="0-1", overwrite=True), _cfg())
    assert (base / "s0" / "notes.md").exists()
