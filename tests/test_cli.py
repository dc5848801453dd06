"""The `keel` command: each bad input gets one clear line and destroys nothing; eval and plot work."""
import json

import pytest
import torch

from keelrl.cli import main
from tests.cli_lines import TINY, err_line


def test_train_writes_a_complete_run_folder(trained):
    meta = json.loads((trained / "config.json").read_text())
    assert meta["algo"] == "sac" and meta["run"]["seed"] == 2 and meta["algo_config"]["batch_size"] == 16
    for name in ("eval.csv", "train.csv", "metrics.csv", "checkpoint.pt", "learning_curve.png"):
        assert (trained / name).exists()


@pytest.mark.parametrize("args, message", [
    (["train", "sac", "--env", "HalfCheeta-v5"], "Did you mean HalfCheetah-v5"),
    (["train", "sacc"], "unknown algorithm 'sacc'; available: awac, bc, cql, curl_sac, cvae_bc, ddpg, dqn, edac, hppo, hyar, iql, mpdqn, paddpg, pdqn, pixel_sac, ppo, sac, sac_n, slac, td3, td3_bc, vae_sac"),
    (["train", "sac", "--actor-lr", "-0.1"], "actor_lr must be > 0"),
    (["train", "sac", "--batch-size", "512", "--buffer-size", "100"], "must not exceed buffer_size"),
    (["train", "sac", "--backup", "redq", "--num-critics", "2", "--redq-subset", "3"], "redq_subset (M=3) <= num_critics (N=2)"),
    (["train", "sac", "--backup", "doubleq", "--num-critics", "3"], "needs num_critics=2"),
    (["train", "sac", "--env", "CartPole-v1"], "SAC needs continuous (Box) actions, but CartPole-v1 has Discrete(2); for discrete actions use DQN or PPO"),
    (["train", "sac", "--total-steps", "0"], "total_steps must be >= 1"),
    (["train", "sac", "--device", "gpu"], "device must be auto, cpu, cuda or cuda:N"),
])
def test_bad_input_is_one_clear_line(tmp_path, capsys, args, message):
    run_dir = tmp_path / "never"
    assert main([*args, "--run-dir", str(run_dir)]) == 1
    assert message in err_line(capsys)
    assert not run_dir.exists()


def test_existing_run_is_refused_and_kept(trained, capsys):
    before = (trained / "eval.csv").read_text()
    assert main(["train", "sac", "--run-dir", str(trained), *TINY]) == 1
    assert "already exists; pass --overwrite" in err_line(capsys)
    assert (trained / "eval.csv").read_text() == before


def test_overwrite_replaces_a_run_but_never_a_foreign_folder(tmp_path, trained, capsys):
    assert main(["train", "sac", "--run-dir", str(trained), "--overwrite", "--seed", "5", *TINY]) == 0
    assert json.loads((trained / "config.json").read_text())["run"]["seed"] == 5
    foreign = tmp_path / "mydata"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    capsys.readouterr()
    assert main(["train", "sac", "--run-dir", str(foreign), "--overwrite", *TINY]) == 1
    assert "not a keelrl run folder" in err_line(capsys)
    assert (foreign / "precious.txt").read_text() == "keep me"


def test_truncated_checkpoint(trained, capsys):
    ckpt = trained / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    assert main(["eval", str(trained), "--episodes", "1"]) == 1
    assert "is truncated or corrupt" in err_line(capsys)
    assert main(["train", "--resume", str(trained)]) == 1
    assert "is truncated or corrupt" in err_line(capsys)


@pytest.mark.parametrize("content", ["torch-dict", "bytes"])
def test_foreign_checkpoint(tmp_path, capsys, content):
    path = tmp_path / "other.pt"
    if content == "torch-dict":
        torch.save({"model": torch.zeros(3)}, path)
        expected = "not a keelrl checkpoint"
    else:
        path.write_bytes(b"not a checkpoint at all")
        expected = "is truncated or corrupt"
    assert main(["eval", str(path)]) == 1
    assert expected in err_line(capsys)


def test_missing_run_folder(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 1
    assert f"cannot resume {tmp_path / 'nothing'}: no such folder" in err_line(capsys)


def test_nan_loss_stops_with_the_loss_and_step_and_keeps_the_last_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "nan"
    args = ["train", "sac", "--run-dir", str(run_dir), "--critic-lr", "1e8", "--checkpoint-every", "50", *TINY]
    assert main(args) == 1
    err = err_line(capsys)
    assert "loss_q" in err and "non-finite at step" in err and "last good checkpoint" in err
    assert main(["eval", str(run_dir), "--episodes", "1"]) == 0   # the checkpoint kept is usable
    from keelrl.train.checkpoint import read_checkpoint
    actor = read_checkpoint(run_dir)["agent"]["actor"]
    assert all(torch.isfinite(v).all() for v in actor.values())


def test_eval_and_plot(tmp_path, trained, capsys):
    assert main(["eval", str(trained), "--episodes", "2"]) == 0
    assert "Pendulum-v1: 2 deterministic episodes" in capsys.readouterr().out
    second = tmp_path / "run2"
    assert main(["train", "sac", "--env", "Pendulum-v1", "--seed", "3", "--run-dir", str(second), *TINY]) == 0
    out = tmp_path / "curves.png"
    assert main(["plot", str(trained), str(second), "--out", str(out)]) == 0
    assert out.stat().st_size > 1000


@pytest.mark.parametrize("name", ["v.gif", "v.mp4"])
def test_eval_video(trained, capfd, monkeypatch, name):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)   # as on a server: Mesa used to print an error line
    assert main(["eval", str(trained), "--episodes", "1", "--video", str(trained / name)]) == 0
    assert (trained / name).stat().st_size > 1000
    out, err = capfd.readouterr()   # the file descriptors: C libraries print there, not to sys.stderr
    assert "XDG_RUNTIME_DIR" not in out + err and "macro_block_size" not in out + err and "resizing" not in out + err


def test_help_of_presets_episodes_kind_and_seeds(capsys):
    with pytest.raises(SystemExit):
        main(["train", "iql", "--help"])
    assert "--preset NAME starts from a preset's Config values" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "deterministic episodes to run" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["collect", "--help"])
    assert "{random,medium,expert,medium-replay,medium-expert,demonstrations}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "td3", "--help"])
    assert "--seeds" not in capsys.readouterr().out   # --seeds stacks SAC only


def test_help_lists_every_config_field(capsys):
    with pytest.raises(SystemExit):
        main(["train", "sac", "--help"])
    out = capsys.readouterr().out
    from dataclasses import fields
    from keelrl.algos.sac import SACConfig
    from keelrl.train.config import RunConfig
    for f in [*fields(SACConfig), *fields(RunConfig)]:
        assert "--" + f.name.replace("_", "-") in out, f.name
    assert "Environment steps taken with uniform random actions" in out   # help from the docstrings
