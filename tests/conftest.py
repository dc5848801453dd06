import os

import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")


def pytest_collection_modifyitems(config, items):
    """Tests marked `slow` (pyproject's marker) run only with KEEL_SLOW=1."""
    if os.environ.get("KEEL_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set KEEL_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests are small: one thread is faster and makes float results reproducible."""
    torch.set_num_threads(1)
    yield


@pytest.fixture
def trained(tmp_path):
    """A finished tiny SAC run on Pendulum-v1 made through `keel train` (tests/cli_lines.py's TINY);
    what it prints is kept out of the test's captured output."""
    import contextlib
    import io

    from keelrl.cli import main
    from tests.cli_lines import TINY
    run_dir = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "sac", "--env", "Pendulum-v1", "--seed", "2", "--run-dir", str(run_dir), *TINY]) == 0
    return run_dir


# --------------------------------------------------------------------------- offline datasets

@pytest.fixture
def minari_root(tmp_path, monkeypatch):
    """A private Minari datasets folder ($MINARI_DATASETS_PATH) for the test; created on first write."""
    root = tmp_path / "datasets"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


@pytest.fixture
def tiny_dataset(minari_root):
    """make(dataset_id, env_id, steps, ...) -> (dataset_id, episodes): a small dataset of uniform random
    actions recorded in a real environment with keelrl's collection helpers and written with write_minari."""
    import numpy as np

    from keelrl.data.collection import collect_episodes
    from keelrl.data.offline import write_minari
    from keelrl.envs.make import make_vector_env

    def make(dataset_id="test/inverted-pendulum/random-v0", env_id="InvertedPendulum-v5", steps=300, seed=0,
             num_envs=2, ref_min_score=0.0, ref_max_score=100.0, overwrite=False):
        envs = make_vector_env(env_id, num_envs)
        space = envs.single_action_space
        rng = np.random.default_rng(seed)

        def policy(obs):
            if hasattr(space, "low"):
                return rng.uniform(space.low, space.high, (obs.shape[0], *space.shape)).astype(np.float32)
            return rng.integers(0, space.n, obs.shape[0])
        try:
            episodes = collect_episodes(envs, policy, steps, seed)
        finally:
            envs.close()
        write_minari(dataset_id, episodes, env_id, ref_min_score, ref_max_score, "uniform random", "test data",
                     overwrite=overwrite)
        return dataset_id, episodes

    return make


# --------------------------------------------------------------------------- probe datasets

@pytest.fixture(scope="session")
def _probe_datasets_root(tmp_path_factory):
    """Minari datasets recorded on the probe environments, made once per session: uniform random
    actions on the value probes, the best action plus noise (std 0.3) on the action probes."""
    from tests.algos import probes as P
    root = tmp_path_factory.mktemp("probe-datasets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINARI_DATASETS_PATH", str(root))
        for probe in P.VALUE_PROBES:
            P.record_dataset(probe, root)
        for probe in P.ACTION_PROBES:
            P.record_dataset(probe, root, behavior_noise=0.3)
    return root


@pytest.fixture
def probe_datasets(_probe_datasets_root, monkeypatch):
    """probe name -> the id of the dataset recorded on it (datasets under a session-wide root)."""
    from tests.algos import probes as P
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(_probe_datasets_root))
    return {p: P.dataset_id(p) for p in P.ALL_PROBES}
