"""Several seeds in one process (`--seeds`): the same runs as one process per seed, no leaks between
seeds, each seed an ordinary run folder, and a group that resumes bit for bit."""
import csv
import dataclasses

import numpy as np
import pytest
import torch

from keelrl.algos.sac import SACAgent, SACConfig
from keelrl.algos import rebuild_agent
from keelrl.speed.sac_seeds import SACSeedStack
from keelrl.types import Spaces
from keelrl.cli import main
from keelrl.errors import KeelError
from keelrl.train.checkpoint import read_checkpoint
from keelrl.train.config import RunConfig, parse_seeds
from keelrl.train.dispatch import resume, train
from keelrl.types import Batch


def _cfg(**kw):
    return SACConfig(hidden_sizes=(16, 16), batch_size=16, learning_starts=100, buffer_size=5000, **kw)


def _run(tmp_path, name, **kw):
    base = dict(env="Pendulum-v1", total_steps=300, eval_every=150, eval_episodes=1, log_every=50,
                checkpoint_every=10_000, run_dir=str(tmp_path / name), progress=False, device="cpu", seed=3)
    return RunConfig(**{**base, **kw})


def _rows(path):
    with open(path) as f:
        return [{k: v for k, v in row.items() if k not in ("wall_s", "sps")} for row in csv.DictReader(f)]


def _agent_tensors(run_dir):
    ckpt = read_checkpoint(run_dir / "checkpoint.pt")
    agent = ckpt["agent"]
    out = {f"{net}.{k}": v for net in ("actor", "critic", "critic_target") for k, v in agent[net].items()}
    out["log_alpha"] = agent["log_alpha"]
    for opt in ("actor_opt", "critic_opt", "alpha_opt"):
        for i, st in agent[opt]["state"].items():
            out.update({f"{opt}.{i}.{k}": v for k, v in st.items()})
    out["buffer.obs"] = ckpt["buffer"]["obs"]
    out["buffer.generator"] = ckpt["buffer"]["generator"]
    out["rng.torch"] = ckpt["rng"]["torch"]
    return out


def _same_run(a, b, exact=True):
    for name in ("eval.csv", "train.csv", "metrics.csv"):
        ra, rb = _rows(a / name), _rows(b / name)
        assert ra and len(ra) == len(rb), name
        if exact:
            assert ra == rb, name
        else:
            for row_a, row_b in zip(ra, rb):
                assert row_a.keys() == row_b.keys(), name
                for k in row_a:
                    if row_a[k] != row_b[k]:
                        assert float(row_a[k]) == pytest.approx(float(row_b[k]), rel=1e-4, abs=1e-5), f"{name} {k}"
    ta, tb = _agent_tensors(a), _agent_tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        if exact:
            assert torch.equal(ta[k], tb[k]), k
        else:
            assert torch.allclose(ta[k].float(), tb[k].float(), rtol=1e-4, atol=1e-5), k


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    assert parse_seeds("0-2,5") == [0, 1, 2, 5]
    for bad in ("", "a-b", "3-1", "1,1", "-2"):
        with pytest.raises(KeelError, match="seeds must be"):
            parse_seeds(bad)


def test_one_seed_stacked_equals_the_single_seed_run(tmp_path):
    single = train("sac", _run(tmp_path, "single"), _cfg())
    group = train("sac", _run(tmp_path, "group", seeds="3"), _cfg())
    assert group == tmp_path / "group"
    _same_run(single, group / "s3")


def test_stacked_seeds_equal_their_single_runs(tmp_path):
    """Two seeds in one process: each is the run `--seed s` makes (tolerance: a batched reduction
    may round differently from the unbatched one, so the runs agree to the last bits only)."""
    group = train("sac", _run(tmp_path, "group", seeds="2,5", total_steps=250), _cfg())
    for s in (2, 5):
        single = train("sac", _run(tmp_path, f"single{s}", seed=s, total_steps=250), _cfg())
        _same_run(single, group / f"s{s}", exact=False)
        meta = (group / f"s{s}" / "config.json").read_text()
        assert f'"seed": {s}' in meta and '"seed_group"' in meta


def _batches(rng, s, b=16, obs_dim=3, act_dim=1):
    return [Batch(*(torch.as_tensor(x, dtype=torch.float32) for x in (
        rng.normal(size=(b, obs_dim)), rng.uniform(-1, 1, (b, act_dim)), rng.normal(size=b),
        rng.normal(size=(b, obs_dim)), rng.random(b) < 0.1))) for _ in range(s)]


@pytest.mark.parametrize("kw", [{}, {"backup": "redq", "num_critics": 4}, {"actor_gradient": "reinforce"}])
def test_seeds_do_not_leak(kw):
    """Changing seed 3's data (and giving it a diverging loss) leaves seed 1's parameters identical."""
    cfg = SACConfig(hidden_sizes=(16, 16), **kw)
    stacks = [SACSeedStack(cfg, [0, 1, 2, 3], Spaces.box(3, -np.ones(1) * 2, np.ones(1) * 2)) for _ in range(2)]
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    for _ in range(5):
        batches_a = _batches(rng_a, 4)
        batches_b = _batches(rng_b, 4)
        big = batches_b[3]
        batches_b[3] = Batch(big.obs * 1e3, -big.action, big.reward * 1e6, big.next_obs, 1 - big.terminated)
        stacks[0].update(batches_a)
        stacks[1].update(batches_b)
    a1, b1 = stacks[0].seed_agent(1), stacks[1].seed_agent(1)
    a3, b3 = stacks[0].seed_agent(3), stacks[1].seed_agent(3)
    for net in ("actor", "critic", "critic_target"):
        for (name, p), q in zip(getattr(a1, net).named_parameters(), getattr(b1, net).parameters()):
            assert torch.equal(p, q), f"seed 1 {net}.{name} changed with seed 3's data"
    assert torch.equal(a1.log_alpha, b1.log_alpha)
    assert not torch.equal(a3.critic.net.layers[0].weight, b3.critic.net.layers[0].weight)
    obs = np.ones((4, 2, 3), np.float32)
    assert np.array_equal(stacks[0].act(obs, True)[1], stacks[1].act(obs, True)[1])


def test_seed_agent_round_trip():
    """Seed i exported as an ordinary SACAgent and loaded back leaves the stack unchanged."""
    cfg = SACConfig(hidden_sizes=(8, 8))
    stack = SACSeedStack(cfg, [4, 6], Spaces.box(3, -np.ones(1), np.ones(1)))
    rng = np.random.default_rng(1)
    for _ in range(3):
        stack.update(_batches(rng, 2))
    agent = rebuild_agent("sac", stack.seed_state_dict(1))
    other = SACSeedStack(cfg, [4, 6], Spaces.box(3, -np.ones(1), np.ones(1)))
    other.load_seed_agent(1, agent)
    for p, q in zip(stack.critic.parameters(), other.critic.parameters()):
        assert torch.equal(p[1], q[1])
    for p, q in zip(stack.actor.parameters(), other.actor.parameters()):
        assert torch.equal(p[1], q[1])
    assert torch.equal(stack.log_alpha[1], other.log_alpha[1])
    for p, q in zip(stack.critic.parameters(), other.critic.parameters()):
        assert torch.equal(stack.critic_opt.state[p]["exp_avg_sq"][1], other.critic_opt.state[q]["exp_avg_sq"][1])


def test_group_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    whole = train("sac", _run(tmp_path, "whole", seeds="0-1"), _cfg())
    part = train("sac", _run(tmp_path, "part", seeds="0-1"), _cfg(), callback=lambda step: step >= 180)
    assert read_checkpoint(part / "s1" / "checkpoint.pt")["loop"]["step"] == 180
    resume(part)
    for s in (0, 1):
        _same_run(whole / f"s{s}", part / f"s{s}")


def test_one_seed_of_a_group_resumes_alone(tmp_path):
    """Each seed's checkpoint is an ordinary single-seed one: continuing seed 1 alone from step 180
    gives the run the group would have made (within float tolerance: the rest of it runs unbatched)."""
    whole = train("sac", _run(tmp_path, "whole", seeds="0-1"), _cfg())
    part = train("sac", _run(tmp_path, "part", seeds="0-1"), _cfg(), callback=lambda step: step >= 180)
    resume(part / "s1")
    _same_run(whole / "s1", part / "s1", exact=False)
    assert read_checkpoint(part / "s0" / "checkpoint.pt")["loop"]["step"] == 180   # seed 0 left where it was


def test_cli_seeds_and_errors(tmp_path, capsys):
    args = ["--env", "Pendulum-v1", "--total-steps", "120", "--learning-starts", "100", "--eval-episodes", "1",
            "--hidden-sizes", "8", "8", "--batch-size", "8", "--no-progress", "--device", "cpu"]
    assert main(["train", "sac", "--seeds", "0-2", "--run-dir", str(tmp_path / "g"), *args]) == 0
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [".keelrl-run", "learning_curve.png", "s0", "s1", "s2"]
    assert main(["train", "sac", "--seeds", "0-2", "--run-dir", str(tmp_path / "g"), *args]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["train", "td3", "--seeds", "0-1", "--run-dir", str(tmp_path / "t"), *args[:-10], "--no-progress"]) == 1
    assert "--seeds trains several seeds in one process for sac" in capsys.readouterr().err
    assert main(["train", "sac", "--seeds", "x", *args]) == 1
    assert "seeds must be" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "g"), "--total-steps", "150", "--no-progress"]) == 0
    assert all(read_checkpoint(tmp_path / "g" / f"s{s}" / "checkpoint.pt")["loop"]["step"] == 150 for s in range(3))
    # the group as one: its combined curve, keel eval of every seed with the mean, keel plot of the folder
    assert (tmp_path / "g" / "learning_curve.png").exists()
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "g"), "--episodes", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("Pendulum-v1: 1 deterministic episodes") == 3 and "3 seeds (s0, s1, s2): mean return " in out
    assert ", 95% CI [" in out
    assert main(["plot", str(tmp_path / "g"), "--out", str(tmp_path / "g.png")]) == 0 and (tmp_path / "g.png").exists()


@pytest.mark.slow
def test_compiled_stack_equals_eager():
    """--compile with --seeds: the compiled stacked networks give the eager stack's updates."""
    from keelrl.speed.compiled import compile_networks
    cfg = SACConfig(hidden_sizes=(16, 16))
    eager, compiled = (SACSeedStack(cfg, [0, 1], Spaces.box(3, -np.ones(1), np.ones(1))) for _ in range(2))
    assert compile_networks(compiled)
    rng = np.random.default_rng(0)
    for _ in range(4):
        batches = _batches(rng, 2)
        info_e, info_c = eager.update(batches), compiled.update(batches)
    for k in info_e:
        assert torch.allclose(info_e[k], info_c[k], rtol=1e-4, atol=1e-5), k
    for p, q in zip(eager.actor.parameters(), compiled.actor.parameters()):
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-6)
    for p, q in zip(eager.critic.parameters(), compiled.critic.parameters()):
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-6)


def test_a_group_killed_while_committing_its_checkpoints_resumes_as_a_group(tmp_path):
    """Seeds' checkpoints are written as checkpoint.pt.next, committed by the group's marker, then
    renamed: a kill between any two of those steps leaves a group that resumes at one step, the same
    as the group left alone."""
    whole = train("sac", _run(tmp_path, "whole", seeds="0-1"), _cfg())
    part = train("sac", _run(tmp_path, "part", seeds="0-1"), _cfg(), callback=lambda step: step >= 150)
    old = {s: (part / s / "checkpoint.pt").read_bytes() for s in ("s0", "s1")}   # both at step 150
    resume(part, callback=lambda step: step >= 200)
    # killed after the commit (the marker says 200) but before s0's rename: s0 still holds step 150
    (part / "s0" / "checkpoint.pt").rename(part / "s0" / "checkpoint.pt.next")
    (part / "s0" / "checkpoint.pt").write_bytes(old["s0"])
    # and an uncommitted write left in s1 (a step the marker never recorded) is undone
    (part / "s1" / "checkpoint.pt.next").write_bytes(old["s1"])
    resume(part)
    assert not list(part.glob("s*/checkpoint.pt.next"))
    for s in ("s0", "s1"):
        _same_run(whole / s, part / s)
