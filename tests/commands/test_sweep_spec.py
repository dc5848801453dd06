"""A sweep spec expands into named trials; every mistake is one KeelError caught before anything runs."""
import re
from pathlib import Path

import pytest
import yaml

from keelrl.errors import KeelError
from keelrl.commands.sweep_spec import check_sources, expand, load_spec

SPEC = """
name: pendulum-lr
algos: [sac, td3]
envs: [Pendulum-v1]
seeds: "0-1"
run: {total_steps: 2000, eval_every: 500}
config:
  sac: {batch_size: 64}
grid:
  sac: {critic_lr: [3e-4, 1.0e-3], hidden_sizes: [[64, 64]]}
"""


def _spec(**changes):
    spec = yaml.safe_load(SPEC)
    spec.update(changes)
    return spec


def test_expansion_names_every_trial_and_sets_its_run(tmp_path):
    sweep = expand(_spec(out=str(tmp_path / "sw")))
    names = [t.name for t in sweep.trials]
    assert names == ["sac-Pendulum-v1-critic_lr=0.0003-hidden_sizes=64x64-s0",
                     "sac-Pendulum-v1-critic_lr=0.0003-hidden_sizes=64x64-s1",
                     "sac-Pendulum-v1-critic_lr=0.001-hidden_sizes=64x64-s0",
                     "sac-Pendulum-v1-critic_lr=0.001-hidden_sizes=64x64-s1",
                     "td3-Pendulum-v1-s0", "td3-Pendulum-v1-s1"]
    first = sweep.trials[0]
    assert first.config == {"batch_size": 64, "critic_lr": 3e-4, "hidden_sizes": (64, 64)}  # "3e-4": YAML's string
    assert first.run["env"] == "Pendulum-v1" and first.run["seed"] == 0 and first.run["total_steps"] == 2000
    assert first.run["run_dir"] == str(tmp_path / "sw" / first.name) and first.run["progress"] is True
    assert sweep.name == "pendulum-lr" and sweep.workers is None and not sweep.threads_given
    assert expand(_spec()).out.parts[-3:] == ("runs", "sweeps", "pendulum-lr")  # the default out


def test_offline_algorithms_take_datasets(tmp_path):
    sweep = expand({"algos": ["iql", "sac"], "datasets": ["keel/hopper/medium-v0"], "envs": ["Pendulum-v1"],
                    "seeds": 3, "run": {"total_steps": 100, "num_envs": 2}, "out": str(tmp_path)})
    iql, sac = sweep.trials
    assert iql.name == "iql-keel_hopper_medium-v0-s3" and iql.run["dataset"] == "keel/hopper/medium-v0"
    assert "num_envs" not in iql.run and sac.run["num_envs"] == 2  # each run field goes where it exists


def test_load_spec_reads_yaml(tmp_path):
    path = tmp_path / "lr.yaml"
    path.write_text(SPEC.replace("name: pendulum-lr\n", ""))
    assert load_spec(path).name == "lr"  # named after the file by default
    path.write_text("algos: [sac\n")
    with pytest.raises(KeelError, match="is not valid YAML"):
        load_spec(path)


@pytest.mark.parametrize("changes, message", [
    ({"algos": ["sacc"]}, "unknown algorithm 'sacc'; available: awac, bc"),
    ({"algos": []}, "algos must name at least one algorithm"),
    ({"grid": {"sac": {"lr": [1e-3]}}}, "unknown key 'lr' in grid.sac; allowed: hidden_sizes, actor_lr, critic_lr"),
    ({"grid": {"sac": {"critic_lr": [-1.0]}}}, "sac: critic_lr must be > 0, got -1.0"),
    ({"grid": {"sac": {"critic_lr": 1e-3}}}, "grid.sac.critic_lr must be a non-empty list of values"),
    ({"grid": {"sac": {"hidden_sizes": [64, 64]}}}, "grid.sac.hidden_sizes must be a list such as [256, 256], got 64"),
    ({"grid": {"sac": {"backup": ["best"]}}}, "grid.sac.backup must be one of min, mean, doubleq, single, redq"),
    ({"grid": {"sac": {"critic_lr": [0.001, 1.0e-3]}}}, "two trials would share the folder"),
    ({"grid": {"sac": {"batch_size": [32]}}}, "batch_size is both fixed (config.sac) and swept (grid.sac)"),
    ({"grid": {"dqn": {"lr": [1e-3]}}}, "unknown key 'dqn' in grid (keyed by algorithm); allowed: sac, td3"),
    ({"config": {"sac": {"batch_size": 2.5}}}, "config.sac.batch_size must be an integer, got 2.5"),
    ({"run": {"seed": 3}}, "run.seed is set per trial by the sweep"),
    ({"run": {"eval_evry": 3}}, "unknown key 'eval_evry' in run; allowed: total_steps, num_envs, eval_every"),
    ({"run": {"total_steps": 0}}, "total_steps must be >= 1"),
    ({"seeds": "4-1"}, "seeds must be a list of integers >= 0 or a range such as \"0-4\""),
    ({"seeds": [0, -1]}, "seeds must be a list of integers >= 0"),
    ({"datasets": ["keel/hopper/medium-v0"]}, "the spec lists datasets but none of its algorithms trains offline"),
    ({"envs": None}, "sac, td3 train online: the spec needs 'envs'"),
    ({"algos": ["iql"], "envs": None, "grid": None, "config": None}, "iql trains offline: the spec needs 'datasets'"),
    ({"workers": 0}, "workers must be an integer >= 1, got 0"),
    ({"sweeps": 2}, "unknown key 'sweeps' in the sweep spec; allowed: name, out, imports, algos"),
])
def test_a_bad_spec_is_one_clear_error(changes, message):
    with pytest.raises(KeelError) as e:
        expand(_spec(**changes))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_missing_keys_are_named():
    with pytest.raises(KeelError, match="the sweep spec needs 'seeds'"):
        expand({"algos": ["sac"], "envs": ["Pendulum-v1"]})


@pytest.mark.parametrize("envs, message", [
    (["Pendulum-v0"], "unknown environment id 'Pendulum-v0'. Did you mean Pendulum-v1"),
    (["CartPole-v1"], "SAC needs continuous (Box) actions, but CartPole-v1 has Discrete(2)"),
])
def test_environments_are_checked_before_launch(envs, message):
    with pytest.raises(KeelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_sources(expand(_spec(envs=envs)).trials)


def test_the_example_in_the_docs_expands_as_it_says():
    page = (Path(__file__).resolve().parents[2] / "docs" / "sweep.md").read_text()
    sweep = expand(yaml.safe_load(re.search(r"```yaml\n(.*?)```", page, re.S).group(1)))
    names = [t.name for t in sweep.trials]
    assert len(names) == 15 and sum(n.startswith("sac-") for n in names) == 12
    assert {"sac-Pendulum-v1-critic_lr=0.0003-tau=0.005-s0", "td3-Pendulum-v1-s2"} <= set(names)
    assert all(n in page for n in ("sac-Pendulum-v1-critic_lr=0.0003-tau=0.005-s0", "td3-Pendulum-v1-s2"))


def test_datasets_are_looked_for_before_launch(minari_root):
    trials = expand({"algos": ["iql"], "datasets": ["keel/hopper/nowhere-v0"], "seeds": [0]}).trials
    with pytest.raises(KeelError, match=f"no Minari dataset 'keel/hopper/nowhere-v0' under {minari_root}"):
        check_sources(trials)
    check_sources(trials, datasets=False)  # on a Ray cluster the nodes read the data
