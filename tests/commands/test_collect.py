"""`keel collect`: D4RL-style datasets from a tiny SAC run: expert and medium rollouts share their
reference scores, medium-replay is the checkpoint's replay buffer, random and medium-expert; and
every bad request is one clear line."""
import json

import numpy as np
import pytest
import torch

from keelrl.algos import SACConfig
from keelrl.cli import main
from keelrl.data.offline import load_minari
from keelrl.train.checkpoint import read_checkpoint
from keelrl.train.config import RunConfig
from keelrl.train.dispatch import train
from tests.cli_lines import err_line

ENV = "InvertedPendulum-v5"


@pytest.fixture(scope="module")
def sac_run(tmp_path_factory):
    """A tiny SAC run that keeps its periodic checkpoints (checkpoints/step_200.pt, step_400.pt, ...)."""
    torch.set_num_threads(1)
    run = RunConfig(env=ENV, total_steps=600, num_envs=1, eval_every=0, eval_episodes=1, log_every=200,
                    checkpoint_every=200, keep_checkpoints=True, run_dir=str(tmp_path_factory.mktemp("sac") / "run"),
                    progress=False, device="cpu", seed=1)
    return train("sac", run, SACConfig(hidden_sizes=(8, 8), batch_size=32, learning_starts=100, buffer_size=5000))


def _collect(*args):
    return main(["collect", *args, "--ref-episodes", "2", "--num-envs", "2"])


def test_keep_checkpoints_saves_every_periodic_checkpoint(sac_run):
    assert sorted(p.name for p in (sac_run / "checkpoints").iterdir()) == ["step_200.pt", "step_400.pt", "step_600.pt"]
    for step in (200, 400, 600):
        ckpt = read_checkpoint(sac_run / "checkpoints" / f"step_{step}.pt")
        assert ckpt["loop"]["step"] == step and ckpt["buffer"]["size"] == step
    final, last = read_checkpoint(sac_run), read_checkpoint(sac_run / "checkpoints" / "step_600.pt")
    for k, v in final["agent"]["actor"].items():
        assert torch.equal(v, last["agent"]["actor"][k]), k


def test_collect_kinds(sac_run, minari_root, capsys):
    medium_ckpt = str(sac_run / "checkpoints" / "step_400.pt")
    assert _collect("--kind", "expert", "--policy", str(sac_run), "--steps", "300", "--name", "test/ip/expert-v0") == 0
    assert _collect("--kind", "medium", "--policy", medium_ckpt, "--steps", "300", "--name", "test/ip/medium-v0") == 0
    assert _collect("--kind", "medium-replay", "--policy", medium_ckpt, "--name", "test/ip/medium-replay-v0") == 0
    assert _collect("--kind", "random", "--env", ENV, "--expert", str(sac_run), "--steps", "300",
                    "--name", "test/ip/random-v0") == 0
    assert _collect("--kind", "medium-expert", "--from", "test/ip/medium-v0", "test/ip/expert-v0",
                    "--name", "test/ip/medium-expert-v0") == 0
    assert "wrote test/ip/expert-v0" in capsys.readouterr().out

    expert, medium = load_minari("test/ip/expert-v0"), load_minari("test/ip/medium-v0")
    replay, rand = load_minari("test/ip/medium-replay-v0"), load_minari("test/ip/random-v0")
    both = load_minari("test/ip/medium-expert-v0")
    for d in (expert, medium, rand):
        assert len(d) == 300 and d.env_spec.id == ENV
    # every kind of one run shares the reference scores: the expert is the run's final checkpoint,
    # random and expert are evaluated on the same seeds
    refs = {(d.ref_min_score, d.ref_max_score) for d in (expert, medium, replay, rand, both)}
    assert len(refs) == 1, refs
    assert expert.ref_max_score != expert.ref_min_score
    # the medium policy is not the expert: its rollouts differ
    assert not torch.equal(expert.action, medium.action)

    # medium-replay: the checkpoint's replay buffer, in insertion order (one env copy)
    buf = read_checkpoint(medium_ckpt)["buffer"]
    assert len(replay) == 400 == buf["size"]
    torch.testing.assert_close(replay.obs, buf["obs"][:400])
    torch.testing.assert_close(replay.next_obs, buf["next_obs"][:400])
    torch.testing.assert_close(replay.reward, buf["reward"][:400])
    torch.testing.assert_close(replay.terminated, buf["terminated"][:400])
    torch.testing.assert_close(replay.action, buf["action"][:400], atol=1e-6, rtol=0)   # env -> policy units
    assert replay.episode_returns.sum() == pytest.approx(float(buf["reward"][:400].sum()))

    # medium-expert: both datasets' episodes, medium's first
    assert len(both) == len(medium) + len(expert) == 600
    assert len(both.episode_returns) == len(medium.episode_returns) + len(expert.episode_returns)
    torch.testing.assert_close(both.obs, torch.cat([medium.obs, expert.obs]))
    torch.testing.assert_close(both.action, torch.cat([medium.action, expert.action]))


def test_collect_errors_are_one_line(sac_run, minari_root, tmp_path, capsys):
    other = tmp_path / "other"
    assert _collect("--kind", "random", "--env", ENV, "--ref-max-score", "1000", "--steps", "50",
                    "--name", "test/ip/random-v0") == 0
    capsys.readouterr()
    cases = [
        (["--kind", "replay", "--policy", str(sac_run), "--name", "test/ip/x-v0"],
         "--kind must be one of random, medium, expert, medium-replay, medium-expert, demonstrations; got 'replay'"),
        (["--kind", "medium", "--name", "test/ip/x-v0"], "--kind medium needs --policy RUN_DIR"),
        (["--kind", "medium", "--policy", str(sac_run), "--name", "test/ip/x-v0"],   # evaluated only at the end
         "has no kept checkpoint with an evaluation to pick a medium policy from"),
        (["--kind", "random", "--env", ENV, "--ref-max-score", "1000", "--name", "test/ip/random-v0"],
         "dataset test/ip/random-v0 already exists"),
        (["--kind", "expert", "--policy", str(sac_run), "--env", "Pendulum-v1", "--name", "test/pendulum/x-v0"],
         "--policy was trained on InvertedPendulum-v5, not --env Pendulum-v1"),
        (["--kind", "expert", "--policy", str(sac_run), "--name", "hopper-expert"], "is not a Minari id"),
        (["--kind", "medium-expert", "--from", "test/ip/random-v0", "--name", "test/ip/x-v0"],
         "--kind medium-expert concatenates datasets: pass --sources MEDIUM_ID EXPERT_ID"),
        (["--kind", "medium-expert", "--from", "test/ip/random-v0", "test/ip/nothing-v0", "--name", "test/ip/x-v0"],
         "no Minari dataset 'test/ip/nothing-v0'"),
        (["--kind", "medium-replay", "--policy", str(other / "checkpoint.pt"), "--env", ENV,
          "--name", "test/ip/x-v0"], str(other)),
        (["--kind", "random", "--env", ENV, "--ref-max-score", "nan", "--name", "test/ip/x-v0"],
         "ref_max_score must be a finite number, got nan"),
        (["--kind", "random", "--env", ENV, "--ref-min-score", "5", "--ref-max-score", "5", "--name", "test/ip/x-v0"],
         "ref_min_score and ref_max_score are both 5.0: normalized scores would divide by zero"),
    ]
    for args, message in cases:
        assert _collect(*args) == 1, args
        assert message in err_line(capsys), args
    assert sorted(p.name for p in (minari_root / "test" / "ip").iterdir()) == ["random-v0"]
    assert not (minari_root / "test" / "pendulum").exists()
    # --overwrite replaces
    assert _collect("--kind", "random", "--env", ENV, "--ref-max-score", "500", "--steps", "40",
                    "--name", "test/ip/random-v0", "--overwrite") == 0
    data = load_minari("test/ip/random-v0")
    assert len(data) == 40 and data.ref_max_score == 500.0
    # an "expert" worse than random is allowed, with a warning: normalized scores would run backwards
    capsys.readouterr()
    assert _collect("--kind", "random", "--env", ENV, "--ref-min-score", "10", "--ref-max-score", "5", "--steps", "20",
                    "--name", "test/ip/backwards-v0") == 0
    assert "warning: the expert's score 5.0 is below the random policy's 10.0" in capsys.readouterr().err


def test_medium_replay_of_a_wrapped_buffer_is_chronological(minari_root, tmp_path):
    run = RunConfig(env=ENV, total_steps=250, eval_every=0, eval_episodes=1, log_every=100, checkpoint_every=1000,
                    run_dir=str(tmp_path / "run"), progress=False, device="cpu", seed=2)
    run_dir = train("sac", run, SACConfig(hidden_sizes=(8, 8), batch_size=16, learning_starts=50, buffer_size=150))
    buf = read_checkpoint(run_dir)["buffer"]
    assert buf["size"] == 150 and buf["ptr"] == 100                   # 250 = 150 + 100: the oldest row is 100
    assert _collect("--kind", "medium-replay", "--policy", str(run_dir / "checkpoint.pt"), "--ref-min-score", "0",
                    "--ref-max-score", "1", "--name", "test/ip/replay-v0") == 0
    data = load_minari("test/ip/replay-v0")
    order = np.r_[100:150, 0:100]
    for field in ("obs", "next_obs", "reward", "terminated"):
        torch.testing.assert_close(getattr(data, field), buf[field][order], msg=field)
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["run"]["keep_checkpoints"] is False and not (run_dir / "checkpoints").exists()


def test_random_without_an_expert_has_no_reference_scores_and_trains(minari_root, tmp_path, capsys):
    """Training takes a dataset without reference scores, so collecting one needs no expert; the
    metadata records the episodes the scores averaged; an offline run's video needs no --env."""
    import minari
    assert _collect("--kind", "random", "--env", ENV, "--steps", "200", "--name", "test/ip/plain-v0") == 0
    assert "so the dataset has no reference scores" in capsys.readouterr().err
    data = load_minari("test/ip/plain-v0")
    assert data.ref_min_score is None and data.ref_max_score is None
    assert _collect("--kind", "random", "--env", ENV, "--ref-max-score", "1000", "--steps", "50",
                    "--name", "test/ip/scored-v0") == 0   # _collect passes --ref-episodes 2
    assert minari.load_dataset("test/ip/scored-v0").storage.metadata["num_episodes_average_score"] == 2
    run_dir = tmp_path / "bc"
    assert main(["train", "bc", "--dataset", "test/ip/plain-v0", "--total-steps", "20", "--eval-episodes", "1",
                 "--hidden-sizes", "8", "8", "--batch-size", "16", "--run-dir", str(run_dir), "--no-progress",
                 "--device", "cpu"]) == 0
    assert main(["eval", str(run_dir), "--episodes", "1", "--video", str(tmp_path / "bc.gif")]) == 0
    assert (tmp_path / "bc.gif").stat().st_size > 1000


def test_random_with_only_an_expert_uses_its_env_or_asks_for_env(sac_run, minari_root, capsys):
    rc = _collect("--kind", "random", "--expert", str(sac_run), "--steps", "50", "--name", "test/ip/random-v0")
    err = capsys.readouterr().err
    assert rc == 0 or ("None" not in err and "--env" in err), err


# --------------------------------------------------------------------------- picking the medium checkpoint

def _fake_run(tmp_path, evals):
    """A run folder as medium_checkpoint reads it: eval.csv and (empty) kept checkpoint files."""
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    lines = ["step,eval_return_mean,eval_return_std,wall_s"]
    for step, ret in evals:
        lines.append(f"{step},{ret},0.0,1.0")
        (run_dir / "checkpoints" / f"step_{step}.pt").write_bytes(b"")
    (run_dir / "eval.csv").write_text("\n".join(lines) + "\n")
    return run_dir


def test_medium_checkpoint_is_the_one_closest_to_a_third_of_the_final_return(tmp_path, capsys):
    from keelrl.commands.collect import medium_checkpoint
    run_dir = _fake_run(tmp_path, [(200, 10.0), (400, 35.0), (600, 80.0), (800, 100.0)])
    assert medium_checkpoint(run_dir) == run_dir / "checkpoints" / "step_400.pt"     # 35 is closest to 100 / 3
    assert "medium policy" in capsys.readouterr().out


def test_medium_checkpoint_with_negative_returns_is_not_the_near_expert(tmp_path):
    from keelrl.commands.collect import medium_checkpoint
    run_dir = _fake_run(tmp_path, [(100, -1200.0), (200, -600.0), (300, -160.0), (400, -150.0)])
    assert medium_checkpoint(run_dir) != run_dir / "checkpoints" / "step_300.pt"


def test_demonstrations_of_a_scripted_demonstrator(minari_root, capsys):
    """--kind demonstrations records keel/Tree-v0's demonstrator: both routes, every episode a
    success, ref_max_score the demonstrator's evaluation; an environment with none is one line."""
    import numpy as np

    from keelrl.data.offline import load_minari
    from keelrl.envs.tree import route_side
    assert main(["collect", "--kind", "demonstrations", "--env", "keel/Tree-v0", "--name", "test/tree/demo-v0",
                 "--steps", "300", "--num-envs", "2", "--ref-episodes", "5"]) == 0
    data = load_minari("test/tree/demo-v0")
    assert data.ref_max_score == pytest.approx(1.0) and data.ref_min_score < 0.5
    import minari
    routes = [route_side(np.asarray(e.observations)) for e in minari.load_dataset("test/tree/demo-v0").iterate_episodes()
              if e.terminations[-1]]
    assert len(routes) >= 8 and set(routes) == {-1, 1}
    assert main(["collect", "--kind", "demonstrations", "--env", "Pendulum-v1", "--name", "test/p/demo-v0",
                 "--steps", "10"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "has no scripted demonstrator" in err
