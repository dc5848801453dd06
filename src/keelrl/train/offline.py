"""The offline loop, for algorithms that train from a dataset (`trains_from = "dataset"`): sample a
batch of the dataset, update, evaluate in the dataset's environment. One step is one gradient update.

A run folder holds what an online run's does (config.json, eval.csv with raw and normalized
returns, metrics.csv, tb/, checkpoint.pt, learning_curve.png). A checkpoint holds the agent and
its optimizers, the sampler's and every RNG's state and the loop counters (an evaluation is a pure
function of the policy and the seed, so the evaluation environment needs no state); not the
dataset, which is re-read on resume and must be the same (size, episodes and checksums are checked).
"""
from __future__ import annotations

from pathlib import Path

import torch

from keelrl.algos import build_agent
from keelrl.algos.spec import AlgoSpec, DatasetNeeds
from keelrl.data.offline import OfflineDataset, load_minari
from keelrl.errors import KeelError
from keelrl.speed.learner import learner_update
from keelrl.train.checkpoint import rng_state, set_rng_state
from keelrl.train.config import OfflineRunConfig
from keelrl.train.skeleton import Member, RunSkeleton, setup_process
from keelrl.types import Spaces


def prepare_dataset(data: OfflineDataset, needs: DatasetNeeds) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Apply the preprocessing the algorithm's spec asks for, in place: reward range scaling, then
    the affine reward change, then state standardization; return the states' (mean, std) when
    they are standardized."""
    if needs.reward_range_scale is not None:
        data.scale_rewards(data.returns_range_scale(needs.reward_range_scale))
    if needs.reward_scale != 1.0 or needs.reward_bias != 0.0:
        data.scale_rewards(needs.reward_scale, needs.reward_bias)
    if needs.normalize_obs:
        mean, std = data.obs_moments(needs.obs_eps)
        data.normalize_obs(mean, std)
        return mean, std
    return None


class OfflineLoop:
    def __init__(self, spec: AlgoSpec, run: OfflineRunConfig, cfg, run_dir: Path, ckpt: dict | None = None,
                 data: OfflineDataset | None = None) -> None:
        """`data`: the dataset already read (by `train`'s checks), else it is read here (on resume)."""
        self.spec, self.run_cfg, self.cfg, self.run_dir = spec, run, cfg, run_dir
        self.needs: DatasetNeeds = spec.needs(cfg)
        self.device, self.np_rng = setup_process(run, ckpt)
        if data is None:
            data = load_minari(run.dataset, self.device, run.seed)
        self.data = data.to(self.device)
        self.data.seed(run.seed)
        self.agent = build_agent(spec, cfg, Spaces.of(self.data), self.device)
        stats = prepare_dataset(self.data, self.needs)
        if stats is not None:
            self.agent.set_obs_normalization(*stats)
        eval_env = self.data.make_eval_env() if run.eval_episodes > 0 else None
        self.skeleton = RunSkeleton(self, spec.name, cfg, [Member(run, run_dir, self.agent, eval_env)],
                                    f"{spec.name} {run.dataset}", list(self.agent.metric_names), self.device,
                                    unit="update", normalize=self.data.normalized_score)
        self.step = 0
        self.metrics: dict[str, torch.Tensor] = {}
        if ckpt is not None:
            self._restore(ckpt)
        self.update = learner_update(self.agent, spec, cfg, self.device, run.compile, run.cuda_graphs)

    def checkpoint_state(self, i: int = 0) -> dict:
        return {"offline": True, "agent": self.agent.state_dict(), "sampler": self.data.generator.get_state(),
                "dataset": self.data.fingerprint(), "rng": rng_state(self.np_rng),
                "loop": {"step": self.step, "metrics": {k: v.detach().cpu() for k, v in self.metrics.items()}}}

    def _restore(self, ckpt: dict) -> None:
        if ckpt["dataset"] != self.data.fingerprint():
            raise KeelError(f"dataset {self.run_cfg.dataset} has changed since this run started "
                            f"(was {ckpt['dataset']}, now {self.data.fingerprint()}); resuming would mix two datasets")
        self.agent.load_state_dict(ckpt["agent"])
        self.data.generator.set_state(ckpt["sampler"])
        set_rng_state(ckpt["rng"], self.np_rng)
        loop = ckpt["loop"]
        self.step = loop["step"]
        self.skeleton.load_state_dict([loop])
        self.metrics = {k: v.to(self.device) for k, v in loop["metrics"].items()}

    def iterate(self) -> None:
        """One gradient update on a batch of the dataset (of sequences when the spec asks for them)."""
        prev = self.step
        needs = self.needs
        batch = (self.data.sample_sequences(needs.batch_size, needs.sequence_length) if needs.sequence_length
                 else self.data.sample(needs.batch_size))
        self.metrics = self.update(batch)
        self.step += 1
        self.skeleton.check_update(self.metrics)
        self.skeleton.evaluate_if_due(prev)

    def run(self, callback=None) -> Path:
        return self.skeleton.run(callback)[0]

    def close(self) -> None:
        env = self.skeleton.members[0].eval_env
        if env is not None:
            env.close()
