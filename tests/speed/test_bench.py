"""`keel bench`: a table and a JSON file of learner updates per second with the machine's description;
one clear line for a bad argument. (Speed itself is measured in benchmarks/, never asserted here.)"""
import json

import pytest
import torch

from keelrl.cli import main
from keelrl.speed.bench import CONTINUOUS_SIZES, DISCRETE_SIZES, OFFLINE_SIZES, learner_setup


def test_bench_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "sac", "dqn", "ppo", "iql", "--updates", "3", "--warmup", "1", "--threads", "1",
                 "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    header = printed.splitlines()[0]
    for part in ("machine:", "device: cpu", "threads: 1", f"torch {torch.__version__}", "eager"):
        assert part in header, header
    report = json.loads(out.read_text())
    assert [r["algo"] for r in report["results"]] == ["sac", "dqn", "ppo", "iql"]
    assert report["threads"] == 1 and report["torch"] == torch.__version__ and report["machine"]
    for r in report["results"]:
        assert r["updates_per_s"] > 0 and r["ms_per_update"] > 0
        assert f"│ {r['algo']} " in printed
    sizes = {r["algo"]: (r["batch_size"], r["parameters"]) for r in report["results"]}
    # DQN on CartPole's sizes: one trainable 4-256-256-2 network (its target is frozen)
    assert sizes["dqn"] == (64, (4 * 256 + 256) + (256 * 256 + 256) + (256 * 2 + 2))
    assert sizes["sac"][0] == 256 and sizes["ppo"][0] == 64 and sizes["iql"][0] == 256


@pytest.mark.parametrize("args, message", [
    (["bench", "sacc"], "unknown algorithm 'sacc'; available: awac, bc, cql"),
    (["bench", "sac", "--updates", "0"], "--updates must be >= 1"),
    (["bench", "sac", "--device", "cpu", "--cuda-graphs"], "--cuda-graphs needs a CUDA device"),
])
def test_bench_bad_arguments_get_one_line(args, message, capsys):
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("algo, sizes", [("td3", CONTINUOUS_SIZES), ("dqn", DISCRETE_SIZES), ("cql", OFFLINE_SIZES)])
def test_setups_use_the_peer_benchmarks_sizes(algo, sizes):
    setup = learner_setup(algo, fill=32)
    batch = setup.sample()
    assert batch.obs.shape == (setup.agent.cfg.batch_size, sizes[0])
    if algo == "dqn":
        assert batch.action.dtype == torch.int64 and int(batch.action.max()) < sizes[1]
    else:
        assert batch.action.shape[1] == sizes[1]
    assert set(setup.update()) >= set(setup.agent.metric_names)


def test_bench_times_stacked_seeds(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "sac", "td3", "--seeds", "3", "--updates", "2", "--warmup", "1", "--threads", "1",
                 "--device", "cpu", "--batch-size", "16", "--out", str(out)]) == 0
    rows = {r["algo"]: r for r in json.loads(out.read_text())["results"]}
    assert list(rows) == ["sac", "sac ×3 seeds", "td3"]        # td3 has no stacked agent
    stacked = rows["sac ×3 seeds"]
    assert stacked["seeds"] == 3 and stacked["seed_updates_per_s"] == pytest.approx(3 * stacked["updates_per_s"], rel=1e-3)
    assert "sac ×3 seeds" in capsys.readouterr().out
    assert main(["bench", "sac", "--seeds", "0"]) == 1


def test_pixel_algorithms_bench_on_frames_and_time_their_side_updates(tmp_path):
    """A pixel agent learns from 64x64 uint8 frames in the slot replay (stacked for SAC from pixels,
    single frames in sequences for SLAC); a model trained beside the main update gets its own row."""
    from keelrl.speed.bench import PIXEL_SIZES, side_setups
    setup = learner_setup("vae_sac", batch_size=4, overrides={"vae_batch_size": 4}, fill=40)
    batch = setup.sample()
    assert batch.obs.shape == (4, 9, PIXEL_SIZES[0], PIXEL_SIZES[0])
    sides = side_setups(setup)
    assert [s.algo for s in sides] == ["vae_sac:update_representation"]
    assert "loss_vae" in sides[0].update()
    slac = learner_setup("slac", batch_size=2, overrides={"model_batch_size": 2}, fill=40)
    seq = slac.sample()
    assert seq.obs.shape == (2, 9, 3, PIXEL_SIZES[0], PIXEL_SIZES[0]) and seq.action.shape == (2, 8, PIXEL_SIZES[1])
    assert "loss_model" in side_setups(slac)[0].update()
