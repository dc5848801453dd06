"""Offline datasets in Minari's format: what write_minari stores load_minari reads back as the
transitions of Batch's contract; datasets written by Minari itself load and train; every unusable
dataset is one clear KeelError; a failed write leaves nothing behind."""
import os
import re

import gymnasium as gym
import numpy as np
import pytest
import torch
from minari.data_collector.episode_buffer import EpisodeBuffer

from keelrl.algos import BCConfig, IQLConfig
from keelrl.data.offline import dataset_env, load_minari, write_minari
from keelrl.errors import KeelError
from keelrl.train.config import OfflineRunConfig
from keelrl.train.dispatch import train

PENDULUM_ID = "test/pendulum/hand-v0"


def _pendulum_episodes():
    """Two hand-made Pendulum-v1 episodes (obs [T+1, 3], actions in the env's [-2, 2]): one of 3
    steps that terminates, one of 2 steps that is truncated (a time limit)."""
    o1 = np.array([[0.1, 0.2, 1.0], [0.2, 0.3, 2.0], [0.3, 0.4, 3.0], [0.4, 0.5, 4.0]], np.float32)
    o2 = np.array([[-0.1, -0.2, -1.0], [-0.2, -0.3, -2.0], [-0.3, -0.4, -3.0]], np.float32)
    ep1 = EpisodeBuffer(id=0, seed=None, observations=o1, actions=np.array([[2.0], [-2.0], [1.0]], np.float32),
                        rewards=np.array([1.0, 2.0, 3.0]), terminations=np.array([False, False, True]),
                        truncations=np.array([False, False, False]))
    ep2 = EpisodeBuffer(id=1, seed=None, observations=o2, actions=np.array([[0.0], [-1.0]], np.float32),
                        rewards=np.array([-4.0, -5.0]), terminations=np.array([False, False]),
                        truncations=np.array([False, True]))
    return [ep1, ep2]


def _write_pendulum(ref_min=-10.0, ref_max=10.0, dataset_id=PENDULUM_ID, **kw):
    return write_minari(dataset_id, _pendulum_episodes(), "Pendulum-v1", ref_min, ref_max, "hand", "hand-made", **kw)


# --------------------------------------------------------------------------- round trip

def test_write_then_load_gives_the_transitions_of_the_episodes(minari_root):
    folder = _write_pendulum()
    assert folder == minari_root / PENDULUM_ID and (folder / "data").is_dir()
    data = load_minari(PENDULUM_ID)
    fp = data.fingerprint()
    assert len(data) == 5 and fp["transitions"] == 5 and fp["episodes"] == 2 and fp["reward_sum"] == -3.0
    eps = _pendulum_episodes()
    # transition t of an episode: (o_t, a_t, r_t, o_{t+1}, terminations_t)
    obs = np.concatenate([e.observations[:-1] for e in eps])
    next_obs = np.concatenate([e.observations[1:] for e in eps])
    torch.testing.assert_close(data.obs, torch.tensor(obs))
    torch.testing.assert_close(data.next_obs, torch.tensor(next_obs))
    torch.testing.assert_close(data.reward, torch.tensor([1.0, 2.0, 3.0, -4.0, -5.0]))
    # only the MDP's end is terminal: the truncated episode's last transition bootstraps
    torch.testing.assert_close(data.terminated, torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0]))
    # Pendulum's Box is [-2, 2]: the dataset's actions arrive in the policy's [-1, 1]
    torch.testing.assert_close(data.action, torch.tensor([[1.0], [-1.0], [0.5], [0.0], [-0.5]]))
    for t in (data.obs, data.action, data.reward, data.next_obs, data.terminated):
        assert t.dtype == torch.float32
    assert data.obs.shape == (5, 3) and data.action.shape == (5, 1) and data.reward.shape == (5,)
    np.testing.assert_allclose(data.episode_returns, [6.0, -9.0])
    assert data.action_space == gym.make("Pendulum-v1").action_space
    assert data.env_spec.id == "Pendulum-v1"


def test_default_root_is_home_minari_and_the_variable_stays_unset(tmp_path, monkeypatch):
    from keelrl.data.offline import datasets_root
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert datasets_root() == tmp_path / ".minari" / "datasets"
    folder = _write_pendulum()
    assert folder == tmp_path / ".minari" / "datasets" / PENDULUM_ID
    assert "MINARI_DATASETS_PATH" not in os.environ
    assert len(load_minari(PENDULUM_ID)) == 5


def test_sample_draws_whole_transitions_reproducibly(minari_root):
    _write_pendulum()
    a, b = load_minari(PENDULUM_ID, seed=4), load_minari(PENDULUM_ID, seed=4)
    batch = a.sample(64)
    assert batch.obs.shape == (64, 3) and batch.action.shape == (64, 1) and batch.terminated.shape == (64,)
    torch.testing.assert_close(batch.obs, b.sample(64).obs)
    # every sampled row is one row of the dataset (obs, action, reward and next_obs of the same transition)
    rows = torch.cat([a.obs, a.action, a.reward[:, None], a.next_obs, a.terminated[:, None]], 1)
    drawn = torch.cat([batch.obs, batch.action, batch.reward[:, None], batch.next_obs, batch.terminated[:, None]], 1)
    assert all((rows == r).all(1).any() for r in drawn)


def test_reference_scores_and_normalized_score(minari_root):
    _write_pendulum(ref_min=-1000.0, ref_max=-100.0)
    data = load_minari(PENDULUM_ID)
    assert (data.ref_min_score, data.ref_max_score) == (-1000.0, -100.0)
    assert data.normalized_score(-550.0) == pytest.approx(50.0)
    assert data.normalized_score(-100.0) == pytest.approx(100.0)
    assert data.normalized_score(-1090.0) == pytest.approx(-10.0)
    env, lo, hi = dataset_env(PENDULUM_ID)       # the metadata alone
    assert (lo, hi) == (-1000.0, -100.0) and env.spec.id == "Pendulum-v1"
    env.close()


def test_no_reference_scores_no_normalized_score(minari_root):
    _write_pendulum(ref_min=None, ref_max=None, dataset_id="test/pendulum/norefs-v0")
    data = load_minari("test/pendulum/norefs-v0")
    assert data.ref_min_score is None and data.ref_max_score is None
    assert data.normalized_score(123.0) is None


def test_overwrite_replaces_and_refusal_keeps_the_dataset(minari_root):
    _write_pendulum()
    with pytest.raises(KeelError, match=re.escape(f"dataset {PENDULUM_ID} already exists") + ".*--overwrite"):
        _write_pendulum(ref_min=0.0, ref_max=1.0)
    assert load_minari(PENDULUM_ID).ref_max_score == 10.0       # untouched
    _write_pendulum(ref_min=0.0, ref_max=1.0, overwrite=True)
    assert load_minari(PENDULUM_ID).ref_max_score == 1.0
    assert [p.name for p in minari_root.iterdir()] == ["test"]  # no temporary folders left


def test_actions_on_the_bounds_train_a_gaussian_policy_to_finite_losses(minari_root, tmp_path):
    _write_pendulum()        # actions ±2: exactly ±1 in policy units, where atanh is infinite
    run = OfflineRunConfig(dataset=PENDULUM_ID, total_steps=6, eval_every=0, eval_episodes=0, log_every=3,
                           run_dir=str(tmp_path / "run"), progress=False, device="cpu", seed=0)
    run_dir = train("bc", run, BCConfig(hidden_sizes=(8, 8), batch_size=8, actor="gaussian", normalize_obs=False))
    rows = (run_dir / "metrics.csv").read_text().strip().splitlines()[1:]
    assert len(rows) == 2 and all(np.isfinite(float(r.split(",")[-1])) for r in rows)


# --------------------------------------------------------------------------- a dataset Minari wrote itself

def test_dataset_written_by_minari_datacollector_loads_and_trains(minari_root, tmp_path):
    import minari
    env = minari.DataCollector(gym.make("Pendulum-v1"))
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = []
    for _ in range(230):                      # one full 200-step episode and part of a second
        a = env.action_space.sample()
        actions.append(a)
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    env.create_dataset(dataset_id="test/pendulum/collector-v0", algorithm_name="uniform random",
                       ref_min_score=-1500.0, ref_max_score=-150.0)
    env.close()
    data = load_minari("test/pendulum/collector-v0")
    assert len(data) == 230 and len(data.episode_returns) == 2
    assert (data.ref_min_score, data.ref_max_score) == (-1500.0, -150.0)
    torch.testing.assert_close(data.action, torch.tensor(np.array(actions)) / 2.0)   # [-2, 2] -> [-1, 1]
    assert data.terminated.sum() == 0                                           # Pendulum only truncates
    # one episode's transitions chain: next_obs of t is obs of t + 1
    torch.testing.assert_close(data.next_obs[:199], data.obs[1:200])

    run = OfflineRunConfig(dataset="test/pendulum/collector-v0", total_steps=4, eval_every=0, eval_episodes=1,
                           log_every=2, run_dir=str(tmp_path / "run"), progress=False, device="cpu", seed=0)
    run_dir = train("bc", run, BCConfig(hidden_sizes=(8, 8), batch_size=16))
    lines = (run_dir / "eval.csv").read_text().strip().splitlines()
    assert lines[0].split(",")[-2:] == ["eval_normalized_mean", "eval_normalized_std"]
    step, ret, _, _, norm, _ = lines[-1].split(",")
    assert step == "4" and float(norm) == pytest.approx(100 * (float(ret) + 1500) / 1350, abs=1e-3)


# --------------------------------------------------------------------------- clear errors

def test_missing_dataset_names_the_path_and_how_to_make_one(minari_root):
    with pytest.raises(KeelError) as e:
        load_minari("keel/hopper/medium-v0")
    msg = str(e.value)
    assert str(minari_root / "keel/hopper/medium-v0" / "data") in msg
    assert "keel collect" in msg and "minari download keel/hopper/medium-v0" in msg
    with pytest.raises(KeelError, match="no Minari dataset"):
        dataset_env("keel/hopper/medium-v0")


@pytest.mark.parametrize("bad", ["hopper", "keel/hopper/medium", "keel hopper-v0", "keel/hopper/medium-vX"])
def test_bad_id_is_refused(minari_root, bad):
    with pytest.raises(KeelError, match=re.escape(f"dataset name {bad!r} is not a Minari id") + ".*namespace/name-vN"):
        load_minari(bad)
    with pytest.raises(KeelError, match="is not a Minari id"):
        _write_pendulum(dataset_id=bad)


def test_corrupt_file_is_a_keel_error(minari_root):
    folder = _write_pendulum()
    (folder / "data" / "main_data.hdf5").write_bytes(b"this is not an hdf5 file" * 100)
    with pytest.raises(KeelError, match=re.escape(f"dataset {PENDULUM_ID} at {folder}") + ".*corrupt"):
        load_minari(PENDULUM_ID)


def test_discrete_actions_are_refused_for_continuous_offline_algos(tiny_dataset, tmp_path):
    dataset_id, _ = tiny_dataset("test/cartpole/random-v0", "CartPole-v1", steps=100)
    with pytest.raises(KeelError, match=r"has actions Discrete\(2\).*1-D Box with finite bounds"):
        load_minari(dataset_id)
    run = OfflineRunConfig(dataset=dataset_id, total_steps=5, run_dir=str(tmp_path / "run"), progress=False,
                           device="cpu")
    with pytest.raises(KeelError, match=r"Discrete\(2\)"):
        train("iql", run, IQLConfig(hidden_sizes=(8, 8), batch_size=16))
    assert not (tmp_path / "run").exists()                 # refused before a run folder is made


# --------------------------------------------------------------------------- atomic writes

def _leftovers(root):
    return [p.name for p in root.iterdir() if p.name.startswith(".keel-")] if root.exists() else []


@pytest.mark.parametrize("episodes, env", [
    (lambda: [*_pendulum_episodes(), None], "Pendulum-v1"),            # fails while the buffers are written
    (_pendulum_episodes, "NoSuchEnv-v0"),                              # fails when minari builds the env
])
def test_failed_write_leaves_no_dataset_and_no_temporary_folder(minari_root, episodes, env):
    with pytest.raises(Exception):
        write_minari("test/pendulum/broken-v0", episodes(), env, 0.0, 1.0, "hand", "broken")
    assert not (minari_root / "test/pendulum/broken-v0").exists()
    assert _leftovers(minari_root) == []
    assert os.environ["MINARI_DATASETS_PATH"] == str(minari_root)     # the redirection is undone
    with pytest.raises(KeelError, match="no Minari dataset"):
        load_minari("test/pendulum/broken-v0")


def test_failed_overwrite_keeps_the_old_dataset(minari_root):
    _write_pendulum(ref_min=-1.0, ref_max=2.0)
    with pytest.raises(Exception):
        write_minari(PENDULUM_ID, [*_pendulum_episodes(), None], "Pendulum-v1", 0.0, 1.0, "hand", "x", overwrite=True)
    assert _leftovers(minari_root) == []
    data = load_minari(PENDULUM_ID)
    assert len(data) == 5 and data.ref_max_score == 2.0


def _mismatched(obs_shape, act_shape):
    return EpisodeBuffer(id=2, seed=None, observations=np.zeros(obs_shape, np.float32),
                         actions=np.zeros(act_shape, np.float32), rewards=np.zeros(2),
                         terminations=np.array([False, True]), truncations=np.array([False, False]))


@pytest.mark.parametrize("obs_shape, act_shape", [((3, 5), (2, 1)), ((3, 3), (2, 2)), ((3, 3), (4, 1))])
def test_write_refuses_episodes_that_do_not_fit_the_env(minari_root, obs_shape, act_shape):
    with pytest.raises(KeelError):
        write_minari("test/pendulum/broken-v0", [*_pendulum_episodes(), _mismatched(obs_shape, act_shape)],
                     "Pendulum-v1", 0.0, 1.0, "hand", "broken")
    assert not (minari_root / "test/pendulum/broken-v0").exists() and _leftovers(minari_root) == []


def test_sequences_of_a_dataset_stay_in_their_episode(tiny_dataset):
    """Action chunks: T consecutive steps from a drawn transition, masked after its episode's last
    step (and the dataset's end), never running into the next episode unmasked."""
    import numpy as np

    from keelrl.data.offline import load_minari
    dataset_id, episodes = tiny_dataset(steps=300)
    data = load_minari(dataset_id)
    s = data.sample_sequences(500, 6)
    assert s.obs.shape == (500, 7, data.obs.shape[1]) and s.action.shape == (500, 6, data.action.shape[1])
    lengths = np.array([len(e.rewards) for e in episodes])
    ends = np.cumsum(lengths)
    # find each sequence's start by its first observation and action, then its episode's end
    flat_obs = data.obs.numpy()
    for seq, m in zip(s.obs.numpy()[:50], s.mask.numpy()[:50]):
        start = int(np.flatnonzero((flat_obs == seq[0]).all(1))[0])
        left = int(ends[np.searchsorted(ends, start, side="right")] - start)      # steps left in its episode
        np.testing.assert_array_equal(m, (np.arange(6) < left).astype(np.float32))
        for t in range(min(left, 6)):
            np.testing.assert_array_equal(seq[t], flat_obs[start + t])
    assert (s.action[s.mask == 0] == 0).all()
