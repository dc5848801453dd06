"""Offline datasets in Farama's Minari format.

Reading: `load_minari` opens a local Minari dataset (one keelrl wrote, or one a user downloaded),
never the network, and copies every transition once into preallocated tensors on the training
device; `OfflineDataset.sample` then draws batches there with no per-step Python work.

Writing: `write_minari` hands whole episodes to `minari.create_dataset_from_buffers`, so the files
are the real format, into a temporary folder that is renamed into place when complete.

A Minari episode of T steps holds observations [T+1, O], actions [T, A], rewards, terminations and
truncations [T]. Transition t is (o_t, a_t, r_t, o_{t+1}, terminations_t): a truncated episode's
last transition keeps its final observation and bootstraps; a terminated one does not.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from keelrl.envs.action_bounds import ActionBounds
from keelrl.errors import KeelError
from keelrl.types import Batch, SequenceBatch

DATASETS_ENV = "MINARI_DATASETS_PATH"


def datasets_root() -> Path:
    """Where Minari keeps local datasets: $MINARI_DATASETS_PATH, else ~/.minari/datasets."""
    return Path(os.environ.get(DATASETS_ENV) or Path.home() / ".minari" / "datasets")


def check_dataset_id(dataset_id: str) -> None:
    """Minari ids are `[namespace/]name-vN`, e.g. keel/hopper/medium-v0 or mujoco/halfcheetah/medium-v0."""
    from minari.dataset.minari_dataset import parse_dataset_id
    try:
        parse_dataset_id(dataset_id)
    except Exception:
        raise KeelError(f"dataset name {dataset_id!r} is not a Minari id; ids look like namespace/name-vN, "
                        f"e.g. keel/hopper/medium-v0") from None


def dataset_dir(dataset_id: str) -> Path:
    return datasets_root() / dataset_id


def _missing_message(dataset_id: str) -> str:
    return (f"no Minari dataset {dataset_id!r} under {datasets_root()} (searched {dataset_dir(dataset_id) / 'data'}; "
            f"set {DATASETS_ENV} to look elsewhere). Make one with `keel collect --name {dataset_id} ...`, "
            f"or download a published one with `minari download {dataset_id}`")


@dataclass
class OfflineDataset:
    """Every transition of a dataset as tensors on one device (shapes as in keelrl.types.Batch;
    actions in the policy's [-1, 1] space), plus what evaluation needs from the metadata."""

    dataset_id: str
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    episode_returns: np.ndarray
    observation_space: gym.Space
    action_space: gym.Space
    env_spec: gym.envs.registration.EnvSpec | None = None
    ref_min_score: float | None = None
    ref_max_score: float | None = None
    generator: torch.Generator = field(default=None, repr=False)
    episode: torch.Tensor | None = None
    """[N] int64: the episode each transition belongs to (transitions are stored episode after episode)."""
    _fingerprint: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # taken when the data is read, before any preprocessing changes the tensors in place
        self._fingerprint = {"transitions": len(self), "episodes": len(self.episode_returns),
                             **{f"{k}_sum": round(float(getattr(self, k).double().sum()), 4)
                                for k in ("obs", "action", "reward", "next_obs", "terminated")}}

    def __len__(self) -> int:
        return self.obs.shape[0]

    def to(self, device: torch.device | str) -> "OfflineDataset":
        """Move the tensors to `device` (in place; returns self). The sampler is re-made there: seed it again."""
        for k in ("obs", "action", "reward", "next_obs", "terminated", "episode"):
            if getattr(self, k) is not None:
                setattr(self, k, getattr(self, k).to(device))
        return self

    def seed(self, seed: int) -> None:
        self.generator = torch.Generator(device=self.obs.device)
        self.generator.manual_seed(seed)

    def sample(self, batch_size: int) -> Batch:
        """Uniform sample with replacement, drawn on the dataset's device."""
        idx = torch.randint(0, len(self), (batch_size,), device=self.obs.device, generator=self.generator)
        return Batch(self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx], self.terminated[idx])

    def sample_sequences(self, batch_size: int, length: int) -> SequenceBatch:
        """Sequences of `length` consecutive steps, starting at uniformly drawn transitions (with
        replacement): observations [B, T+1, O], actions [B, T, A], rewards, terminations and the mask
        [B, T], whose steps after the episode's last are 0 (an action chunk near an episode's end)."""
        if self.episode is None:
            raise KeelError(f"dataset {self.dataset_id} does not record its episodes, so it gives no sequences")
        n, dev = len(self), self.obs.device
        start = torch.randint(0, n, (batch_size,), device=dev, generator=self.generator)            # [B]
        idx = start.unsqueeze(1) + torch.arange(length, device=dev)                                  # [B, T]
        inside = idx < n
        idx = idx.clamp(max=n - 1)
        mask = (inside & (self.episode[idx] == self.episode[start].unsqueeze(1))).float()             # [B, T]
        obs = torch.cat([self.obs[idx], self.next_obs[idx[:, -1:]]], 1)                              # [B, T+1, O]
        obs = obs * torch.cat([mask, mask[:, -1:]], 1).unsqueeze(-1)
        return SequenceBatch(obs, self.action[idx] * mask.unsqueeze(-1), self.reward[idx] * mask,
                             self.terminated[idx] * mask, mask)

    def fingerprint(self) -> dict:
        """Sizes and checksums of the data as read: a resumed run checks that it reads the same data it started on."""
        return dict(self._fingerprint)

    # ---- preprocessing some algorithms ask for (each changes the tensors in place, once)
    def obs_moments(self, eps: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-dimension mean and std + eps of the observations (TD3+BC's state normalization)."""
        return self.obs.mean(0), self.obs.std(0) + eps

    def normalize_obs(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.obs.sub_(mean).div_(std)
        self.next_obs.sub_(mean).div_(std)

    def scale_rewards(self, scale: float, bias: float = 0.0) -> None:
        """r ← scale · r + bias."""
        self.reward.mul_(scale).add_(bias)

    def returns_range_scale(self, target: float = 1000.0) -> float:
        """target / (max episode return - min episode return): IQL's reward scaling for locomotion."""
        spread = float(self.episode_returns.max() - self.episode_returns.min())
        return target / spread if spread > 0 else 1.0

    def normalized_score(self, returns: float) -> float | None:
        """100 · (R - R_random) / (R_expert - R_random) from the dataset's reference scores, if it has them."""
        if self.ref_min_score is None or self.ref_max_score is None or self.ref_max_score == self.ref_min_score:
            return None
        return 100.0 * (returns - self.ref_min_score) / (self.ref_max_score - self.ref_min_score)

    def make_eval_env(self, render_mode: str | None = None) -> gym.Env:
        """The environment the dataset was recorded in, rebuilt from its metadata (rendering frames
        when `render_mode` is "rgb_array")."""
        if self.env_spec is None:
            raise KeelError(f"dataset {self.dataset_id} records no environment (env_spec), so it cannot be evaluated")
        try:
            return gym.make(self.env_spec, **({"render_mode": render_mode} if render_mode else {}))
        except Exception as e:
            raise KeelError(f"cannot rebuild the environment {self.env_spec.id!r} recorded in dataset "
                            f"{self.dataset_id}: {type(e).__name__}: {e}") from None


def dataset_env(dataset_id: str, render_mode: str | None = None) -> tuple[gym.Env, float | None, float | None]:
    """The environment a dataset was recorded in and its (ref_min_score, ref_max_score), from the
    metadata alone (the episodes are not read)."""
    import minari
    check_dataset_id(dataset_id)
    if not (dataset_dir(dataset_id) / "data").is_dir():
        raise KeelError(_missing_message(dataset_id))
    try:
        ds = minari.load_dataset(dataset_id, download=False)
        spec, meta = _eval_spec(ds), ds.storage.metadata
    except Exception as e:
        raise KeelError(f"dataset {dataset_id} at {dataset_dir(dataset_id)} could not be opened ({type(e).__name__}: {e})") from None
    probe = OfflineDataset(dataset_id, *([torch.zeros(0)] * 5), np.zeros(0), ds.observation_space, ds.action_space, spec)
    return probe.make_eval_env(render_mode), _float_or_none(meta.get("ref_min_score")), _float_or_none(meta.get("ref_max_score"))


def load_minari(dataset_id: str, device: torch.device | str = "cpu", seed: int = 0) -> OfflineDataset:
    """Read a local Minari dataset into tensors (a KeelError if it is missing, unsuitable or corrupt)."""
    import minari
    check_dataset_id(dataset_id)
    if not (dataset_dir(dataset_id) / "data").is_dir():
        raise KeelError(_missing_message(dataset_id))
    try:
        ds = minari.load_dataset(dataset_id, download=False)
        obs_space, act_space = ds.observation_space, ds.action_space
    except FileNotFoundError:
        raise KeelError(_missing_message(dataset_id)) from None
    except Exception as e:
        raise KeelError(f"dataset {dataset_id} at {dataset_dir(dataset_id)} could not be opened ({type(e).__name__}: {e}); "
                        f"the files are corrupt or not Minari's: delete and re-create or re-download it") from None
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise KeelError(f"dataset {dataset_id} has observations {obs_space}; keelrl's offline algorithms need a flat "
                        f"Box (a vector). Dict or image observations are not supported.")
    if not isinstance(act_space, gym.spaces.Box) or len(act_space.shape) != 1 \
            or not (np.all(np.isfinite(act_space.low)) and np.all(np.isfinite(act_space.high))):
        raise KeelError(f"dataset {dataset_id} has actions {act_space}; keelrl's offline algorithms need a 1-D "
                        f"Box with finite bounds (continuous control)")
    try:
        episodes = list(ds.iterate_episodes())
        parts = {k: [] for k in ("obs", "action", "reward", "next_obs", "terminated")}
        returns = []
        for ep in episodes:
            o = np.asarray(ep.observations, np.float32)
            t = len(ep.rewards)
            if o.shape != (t + 1, obs_space.shape[0]) or np.asarray(ep.actions).shape != (t, act_space.shape[0]):
                raise ValueError(f"episode {ep.id} has observations {o.shape} and actions "
                                 f"{np.asarray(ep.actions).shape} for {t} rewards")
            parts["obs"].append(o[:-1])
            parts["next_obs"].append(o[1:])
            parts["action"].append(np.asarray(ep.actions, np.float32))
            parts["reward"].append(np.asarray(ep.rewards, np.float32))
            parts["terminated"].append(np.asarray(ep.terminations, np.float32))
            returns.append(float(np.sum(ep.rewards)))
            parts.setdefault("episode", []).append(np.full(t, len(returns) - 1, np.int64))
        meta = ds.storage.metadata
        env_spec = _eval_spec(ds)
    except KeelError:
        raise
    except Exception as e:
        raise KeelError(f"dataset {dataset_id} at {dataset_dir(dataset_id)} could not be read ({type(e).__name__}: {e}); "
                        f"the files are corrupt or incomplete: delete and re-create or re-download it") from None
    if not episodes or sum(len(r) for r in parts["reward"]) == 0:
        raise KeelError(f"dataset {dataset_id} holds no transitions")
    dev = torch.device(device)
    tensor = lambda k: torch.as_tensor(np.concatenate(parts[k]), device=dev)  # noqa: E731
    bounds = ActionBounds(act_space.low, act_space.high)
    action = torch.as_tensor(bounds.to_policy(np.concatenate(parts["action"])), device=dev)
    data = OfflineDataset(dataset_id, tensor("obs"), action, tensor("reward"), tensor("next_obs"), tensor("terminated"),
                          np.asarray(returns), obs_space, act_space, env_spec,
                          _float_or_none(meta.get("ref_min_score")), _float_or_none(meta.get("ref_max_score")))
    if not all(bool(torch.isfinite(t).all()) for t in (data.obs, data.action, data.reward, data.next_obs)):
        raise KeelError(f"dataset {dataset_id} contains NaN or infinite values; it cannot be trained on")
    data.episode = tensor("episode")
    data.seed(seed)
    return data


def _eval_spec(ds) -> gym.envs.registration.EnvSpec | None:
    """The environment to evaluate in: the dataset's eval_env_spec when it names one, else the one it was recorded in."""
    return getattr(ds, "_eval_env_spec", None) or ds.spec.env_spec


def _float_or_none(x) -> float | None:
    return None if x is None else float(np.asarray(x).reshape(-1)[0])


def _check_episodes(episodes: list, env) -> None:
    """Every episode must fit the environment's spaces: observations [T+1, *O], actions [T, *A],
    rewards, terminations and truncations [T] (minari itself would write anything)."""
    if isinstance(env, gym.Env):
        obs_space, act_space = env.observation_space, env.action_space
    else:
        probe = gym.make(env)
        obs_space, act_space = probe.observation_space, probe.action_space
        probe.close()
    for i, ep in enumerate(episodes):
        t = len(ep.rewards)
        shapes = {"observations": (np.shape(ep.observations), (t + 1, *obs_space.shape)),
                  "actions": (np.shape(ep.actions), (t, *act_space.shape)),
                  "terminations": (np.shape(ep.terminations), (t,)), "truncations": (np.shape(ep.truncations), (t,))}
        bad = {k: got for k, (got, want) in shapes.items() if tuple(got) != want}
        if t == 0 or bad:
            raise KeelError(f"episode {i} does not fit {getattr(env, 'id', env)} ({obs_space}, {act_space}): "
                            f"{t} rewards, " + ", ".join(f"{k} {tuple(v)} (expected {shapes[k][1]})" for k, v in bad.items()))


def write_minari(dataset_id: str, episodes: list, env: str | gym.Env | gym.envs.registration.EnvSpec,
                 ref_min_score: float | None, ref_max_score: float | None, algorithm_name: str,
                 description: str, overwrite: bool = False, ref_episodes: int = 100) -> Path:
    """Write `episodes` (minari EpisodeBuffer objects) as dataset `dataset_id`; return its folder.
    `ref_episodes`: how many episodes each reference score averaged (recorded in the metadata).

    The dataset is built in a temporary folder beside the others and renamed into place, so an
    interrupted write never leaves a half dataset, and an existing one is replaced only when asked.
    """
    import minari
    check_dataset_id(dataset_id)
    final = dataset_dir(dataset_id)
    if final.exists() and not overwrite:
        raise KeelError(f"dataset {dataset_id} already exists at {final}; pass --overwrite to replace it or choose another --name")
    if not episodes:
        raise KeelError("no episodes to write")
    _check_episodes(episodes, env)
    root = datasets_root()
    root.mkdir(parents=True, exist_ok=True)
    tmp_root = Path(tempfile.mkdtemp(dir=root, prefix=".keel-tmp-"))
    old = os.environ.get(DATASETS_ENV)
    os.environ[DATASETS_ENV] = str(tmp_root)
    try:
        with warnings.catch_warnings():  # minari asks for a code link and an e-mail address; keelrl has neither to give
            warnings.simplefilter("ignore", UserWarning)
            minari.create_dataset_from_buffers(
                dataset_id=dataset_id, buffer=episodes, env=env, eval_env=env, algorithm_name=algorithm_name,
                author="keelrl", ref_min_score=ref_min_score, ref_max_score=ref_max_score, description=description,
                num_episodes_average_score=ref_episodes, data_format="hdf5")
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            trash = Path(tempfile.mkdtemp(dir=root, prefix=".keel-old-"))
            os.replace(final, trash / "old")
            os.replace(tmp_root / dataset_id, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp_root / dataset_id, final)
    finally:
        if old is None:
            os.environ.pop(DATASETS_ENV, None)
        else:
            os.environ[DATASETS_ENV] = old
        shutil.rmtree(tmp_root, ignore_errors=True)
    return final
