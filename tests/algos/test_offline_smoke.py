"""Every offline algorithm trains a few updates on a tiny dataset with (8, 8) networks, writes a
complete run folder with normalized scores, and its saved agent acts as the trained one did; the
`keel train ALGO --dataset` and `keel eval` commands work on offline runs."""
import csv
import json
import math

import numpy as np
import pytest

import keelrl
from keelrl.algos import (ALGOS, AWACConfig, BCConfig, CQLConfig, EDACConfig, IQLConfig, SACNConfig, TD3BCConfig,
                          get_algo)
from keelrl.algos.cvae_bc import CVAEBCConfig
from keelrl.cli import main
from keelrl.data.offline import load_minari
from keelrl.train.config import OfflineRunConfig
from keelrl.train.evaluation import EVAL_SEED_OFFSET, episode_starter, evaluate
from keelrl.train.dispatch import train
from keelrl.types import Spaces
from tests.cli_lines import err_line

TINY = dict(hidden_sizes=(8, 8), batch_size=16)

CASES = {
    "bc": ("bc", BCConfig(**TINY)),
    "bc-gaussian": ("bc", BCConfig(**TINY, actor="gaussian")),
    "td3_bc": ("td3_bc", TD3BCConfig(**TINY)),
    "cql": ("cql", CQLConfig(**TINY, cql_n_actions=2)),
    "cql-lagrange": ("cql", CQLConfig(**TINY, cql_n_actions=2, lagrange=True, target_action_gap=1.0)),
    "cql-no-importance-sampling": ("cql", CQLConfig(**TINY, cql_n_actions=2, importance_sampling=False)),
    "iql": ("iql", IQLConfig(**TINY)),
    "iql-deterministic": ("iql", IQLConfig(**TINY, actor="deterministic")),
    "awac": ("awac", AWACConfig(**TINY)),
    "sac_n": ("sac_n", SACNConfig(**TINY, num_critics=3)),
    "edac": ("edac", EDACConfig(**TINY, num_critics=3)),
    "cvae_bc-chunks": ("cvae_bc", CVAEBCConfig(**TINY, chunk=3)),
}


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_every_offline_algorithm_has_a_case():
    assert {algo for algo, _ in CASES.values()} == {n for n, s in ALGOS.items() if s.uses_dataset}


@pytest.mark.parametrize("case", list(CASES))
def test_offline_smoke_run_then_load_agent_and_act(tiny_dataset, tmp_path, case):
    algo, cfg = CASES[case]
    dataset_id, episodes = tiny_dataset()    # InvertedPendulum-v5 (actions in [-3, 3]), refs 0 and 100
    run = OfflineRunConfig(dataset=dataset_id, total_steps=30, eval_every=15, eval_episodes=1, log_every=15,
                           checkpoint_every=1000, run_dir=str(tmp_path / case), progress=False, device="cpu", seed=2)
    run_dir = train(algo, run, cfg)
    for name in ("config.json", "eval.csv", "metrics.csv", "checkpoint.pt", "learning_curve.png"):
        assert (run_dir / name).exists(), name
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["algo"] == algo and meta["offline"] is True and meta["run"]["dataset"] == dataset_id
    assert meta["dataset"]["transitions"] == 300 and meta["dataset"]["episodes"] == len(episodes)
    assert meta["dataset"]["reward_sum"] == pytest.approx(sum(float(e.rewards.sum()) for e in episodes), abs=1e-3)

    evals = _rows(run_dir / "eval.csv")
    assert [r["step"] for r in evals] == ["15", "30"]
    for r in evals:   # normalized = 100 (R - 0) / (100 - 0)
        assert float(r["eval_normalized_mean"]) == pytest.approx(float(r["eval_return_mean"]), abs=1e-6)
    metrics = _rows(run_dir / "metrics.csv")
    assert [r["updates"] for r in metrics] == ["15", "30"]
    for name in get_algo(algo).agent.metric_names:
        assert all(math.isfinite(float(r[name])) for r in metrics), name
    if algo == "cql":   # α' is learned (from 1) only in the Lagrange form; else logged as 0
        assert (float(metrics[-1]["alpha_prime"]) > 0) == cfg.lagrange
        assert float(metrics[-1]["alpha_prime"]) != 1.0

    agent = keelrl.load_agent(run_dir)
    assert agent.num_updates == 30
    data = load_minari(dataset_id)
    obs = data.obs[:4].numpy()
    action = agent.act(obs, deterministic=True)
    assert action.shape == (4, 1) and np.all(np.abs(action) <= 3.0 + 1e-5)
    if getattr(cfg, "normalize_obs", False):   # the state normalization is part of the saved agent
        np.testing.assert_allclose(agent.obs_norm.mean.numpy(), data.obs.mean(0).numpy(), rtol=1e-5, atol=1e-6)
    # the saved agent is the one evaluated last: same seed, same return
    env = data.make_eval_env()
    ret = evaluate(lambda o: agent.act(o, deterministic=True), env, 1, run.seed + EVAL_SEED_OFFSET,
                   start_episode=episode_starter(agent))
    env.close()
    assert float(ret[0]) == pytest.approx(float(evals[-1]["eval_return_mean"]))


def test_offline_run_needs_an_offline_run_config(tiny_dataset, tmp_path):
    from keelrl.errors import KeelError
    from keelrl.train.config import RunConfig
    dataset_id, _ = tiny_dataset()
    with pytest.raises(KeelError, match="iql trains offline"):
        train("iql", RunConfig(env="InvertedPendulum-v5", run_dir=str(tmp_path / "a")), IQLConfig(**TINY))
    with pytest.raises(KeelError, match="sac trains online"):
        train("sac", OfflineRunConfig(dataset=dataset_id, run_dir=str(tmp_path / "b")), keelrl.SACConfig())
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# --------------------------------------------------------------------------- keel train / keel eval

CLI_TINY = ["--hidden-sizes", "8", "8", "--batch-size", "16", "--eval-episodes", "1", "--no-progress",
            "--device", "cpu"]


def test_cli_train_offline_then_eval_prints_a_normalized_score(tiny_dataset, tmp_path, capsys):
    dataset_id, _ = tiny_dataset()
    run_dir = tmp_path / "run"
    assert main(["train", "iql", "--dataset", dataset_id, "--total-steps", "5", "--run-dir", str(run_dir),
                 *CLI_TINY]) == 0
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["run"]["total_steps"] == 5 and meta["algo_config"]["hidden_sizes"] == [8, 8]
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "InvertedPendulum-v5: 2 deterministic episodes" in out
    ret = float(out.split("return ")[1].split(" ")[0])
    assert f"normalized score {ret:.1f} (dataset {dataset_id}: random 0.0, expert 100.0)" in out


def test_cli_env_for_an_offline_algorithm_is_one_line(tiny_dataset, tmp_path, capsys):
    dataset_id, _ = tiny_dataset()
    assert main(["train", "iql", "--dataset", dataset_id, "--env", "Hopper-v5", "--run-dir", str(tmp_path / "r"),
                 *CLI_TINY]) == 1
    assert "iql trains offline on a dataset: pass --dataset ID" in err_line(capsys)
    assert not (tmp_path / "r").exists()


def test_cli_dataset_for_an_online_algorithm_is_one_line(tiny_dataset, tmp_path, capsys):
    dataset_id, _ = tiny_dataset()
    assert main(["train", "sac", "--dataset", dataset_id, "--run-dir", str(tmp_path / "r")]) == 1
    err = err_line(capsys)
    assert "sac trains online in an environment (--env)" in err and "awac, bc, cql, cvae_bc, edac, iql, sac_n, td3_bc" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("extra, tau", [([], 0.001), (["--tau", "0.01"], 0.01), (["--tau=0.01"], 0.01)])
def test_cli_preset_sets_defaults_and_explicit_flags_win(tiny_dataset, tmp_path, extra, tau):
    dataset_id, _ = tiny_dataset()
    run_dir = tmp_path / "run"
    assert main(["train", "iql", "--preset", "hopper-medium", "--dataset", dataset_id, "--total-steps", "2",
                 "--run-dir", str(run_dir), *extra, *CLI_TINY]) == 0
    cfg = json.loads((run_dir / "config.json").read_text())["algo_config"]
    assert cfg["actor"] == "deterministic" and cfg["tau"] == pytest.approx(tau)
    assert cfg["expectile"] == 0.7                          # fields the preset does not name keep the defaults


@pytest.mark.parametrize("algo, message", [
    ("iql", "iql has no preset 'walker-expert'; its presets: hopper-medium, hopper-medium-replay, halfcheetah-medium"),
    ("bc", "bc has no preset 'walker-expert'; its presets: none"),
])
def test_cli_unknown_preset_names_the_presets(tiny_dataset, tmp_path, capsys, algo, message):
    dataset_id, _ = tiny_dataset()
    assert main(["train", algo, "--dataset", dataset_id, "--preset=walker-expert", "--run-dir", str(tmp_path / "r"),
                 *CLI_TINY]) == 1
    assert message in err_line(capsys)
    assert not (tmp_path / "r").exists()


def test_cli_missing_dataset_is_one_line(minari_root, tmp_path, capsys):
    assert main(["train", "td3_bc", "--dataset", "keel/hopper/medium-v0", "--run-dir", str(tmp_path / "r"),
                 *CLI_TINY]) == 1
    err = err_line(capsys)
    assert "no Minari dataset 'keel/hopper/medium-v0'" in err and "keel collect" in err
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- agent details

def _batch(b=4, obs_dim=3):
    import torch

    from keelrl.types import Batch
    return Batch(torch.randn(b, obs_dim), torch.rand(b, 1) * 2 - 1, torch.randn(b), torch.randn(b, obs_dim),
                 torch.zeros(b))


def test_iql_actor_lr_is_cosine_annealed_to_zero():
    import torch

    from keelrl.algos import IQLAgent
    torch.manual_seed(0)
    agent = IQLAgent(IQLConfig(**TINY, lr_decay_steps=4), Spaces.box(3, [-1.0], [1.0]))
    lrs = []
    for _ in range(4):
        lrs.append(agent.actor_opt.param_groups[0]["lr"])
        agent.update(_batch())
    lrs.append(agent.actor_opt.param_groups[0]["lr"])
    expected = [3e-4 * 0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(5)]
    assert lrs == pytest.approx(expected, abs=1e-12)
    assert agent.critic_opt.param_groups[0]["lr"] == 3e-4 and agent.value_opt.param_groups[0]["lr"] == 3e-4


def test_iql_actor_lr_stays_at_zero_after_the_schedule():
    import torch

    from keelrl.algos import IQLAgent
    torch.manual_seed(0)
    agent = IQLAgent(IQLConfig(**TINY, lr_decay_steps=4), Spaces.box(3, [-1.0], [1.0]))
    lrs = []
    for _ in range(8):   # past T the rate stays at 0 (torch's CosineAnnealingLR alone would climb back by 2T)
        agent.update(_batch())
        lrs.append(agent.actor_opt.param_groups[0]["lr"])
    expected = [3e-4 * 0.5 * (1 + math.cos(math.pi * t / 4)) for t in (1, 2, 3, 4)] + [0.0] * 4
    assert lrs == pytest.approx(expected, abs=1e-12)
