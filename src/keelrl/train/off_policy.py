"""The off-policy loop, for algorithms that train from environment transitions (`trains_from =
"transitions"`): act, step, store (n-step when asked), update from the replay buffer, as the
algorithm's `Transitions` needs say. Evaluation, logging and checkpoint timing are the skeleton's.

A checkpoint holds everything the loop needs to continue bit-for-bit: agent and optimizers, replay
buffer, RNG states, environment states, step counters.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from keelrl.algos import build_agent
from keelrl.algos.spec import AlgoSpec, Transitions
from keelrl.data.nstep import NStepWriter
from keelrl.data.replay import ReplayBuffer
from keelrl.data.sequence_replay import SequenceReplayBuffer
from keelrl.envs.make import make_env, make_vector_env, true_next_obs
from keelrl.envs.pixels import frame_stack_of
from keelrl.envs.spaces import is_pixels, random_actions
from keelrl.errors import KeelError
from keelrl.envs.state import set_vector_state, vector_state
from keelrl.speed.learner import learner_update
from keelrl.train.checkpoint import rng_state, set_rng_state
from keelrl.train.config import RunConfig
from keelrl.train.evaluation import episode_starter
from keelrl.train.logging import EpisodeTracker
from keelrl.train.skeleton import Member, RunSkeleton, setup_process
from keelrl.types import Spaces


class OffPolicyLoop:
    def __init__(self, spec: AlgoSpec, run: RunConfig, cfg, run_dir: Path, ckpt: dict | None = None) -> None:
        self.spec, self.run_cfg, self.cfg, self.run_dir = spec, run, cfg, run_dir
        self.needs: Transitions = spec.needs(cfg)
        self.device, self.np_rng = setup_process(run, ckpt)
        self.envs = make_vector_env(run.env, run.num_envs, run.env_kwargs, run.wrappers)
        spaces = Spaces.of(self.envs)
        self.agent = build_agent(spec, cfg, spaces, self.device)
        n_step = self.needs.n_step
        self.slots = is_pixels(spaces.observation) or self.needs.sequence_length > 0
        if self.slots:   # each frame stored once; transitions, frame stacks and sequences gathered from the slots
            if n_step > 1:
                raise KeelError(f"{spec.name}: n-step returns are not available with pixel observations or sequences")
            if self.needs.learning_starts < self.needs.sequence_length * run.num_envs:
                raise KeelError(f"{spec.name} learns from sequences of {self.needs.sequence_length} steps: "
                                f"--learning-starts must be at least {self.needs.sequence_length * run.num_envs} "
                                f"(the sequence length times --num-envs), got {self.needs.learning_starts}")
            self.buffer = SequenceReplayBuffer(
                self.needs.buffer_size, spaces.observation.shape, spaces.act_dim, run.num_envs, self.device, run.seed,
                max(self.needs.sequence_length, 1), frame_stack_of(self.envs),
                torch.uint8 if spaces.observation.dtype == np.uint8 else torch.float32)
            print(f"keel: {self.buffer.memory_text()}", file=sys.stderr, flush=True)
        else:
            self.buffer = ReplayBuffer.for_spaces(self.needs.buffer_size, spaces, self.device, seed=run.seed,
                                                  with_discount=n_step > 1,
                                                  policy_action_dim=self.needs.policy_action_size(spaces))
        self.writer = NStepWriter(self.buffer, n_step, self.needs.gamma, run.num_envs) if n_step > 1 else None
        self.start_episodes = episode_starter(self.agent)
        eval_env = make_env(run.env, kwargs=run.env_kwargs, wrappers=run.wrappers) if run.eval_episodes > 0 else None
        self.episodes = EpisodeTracker(run.num_envs)
        self.skeleton = RunSkeleton(self, spec.name, cfg, [Member(run, run_dir, self.agent, eval_env, self.episodes)],
                                    f"{spec.name} {run.env}", list(self.agent.metric_names), self.device)
        self.step, self.update_debt = 0, 0.0
        self.metrics: dict[str, torch.Tensor] = {}
        if ckpt is None:
            self.obs, _ = self.envs.reset(seed=run.seed)
            self.envs.action_space.seed(run.seed)
            if self.start_episodes is not None:
                self.start_episodes(np.ones(run.num_envs, dtype=bool))
        else:
            self._restore(ckpt)
        self.update = learner_update(self.agent, spec, cfg, self.device, run.compile, run.cuda_graphs)

    # ---- checkpoints
    def checkpoint_state(self, i: int = 0) -> dict:
        return {"agent": self.agent.state_dict(), "buffer": self.buffer.state_dict(), "rng": rng_state(self.np_rng),
                "envs": vector_state(self.envs), "nstep": None if self.writer is None else self.writer.state_dict(),
                "loop": {"step": self.step, "obs": self.obs, "update_debt": self.update_debt, **self.episodes.state_dict(),
                         "metrics": {k: v.detach().cpu() for k, v in self.metrics.items()}}}

    def _restore(self, ckpt: dict) -> None:
        self.agent.load_state_dict(ckpt["agent"])
        self.buffer.load_state_dict(ckpt["buffer"])
        if self.writer is not None:
            self.writer.load_state_dict(ckpt["nstep"])
        set_rng_state(ckpt["rng"], self.np_rng)
        loop = ckpt["loop"]
        self.step, self.obs, self.update_debt = loop["step"], loop["obs"].copy(), loop["update_debt"]
        self.episodes.load_state_dict(loop)
        for i, first in set_vector_state(self.envs, ckpt["envs"], self.run_cfg.seed + self.step).items():
            self.obs[i] = first   # an environment whose state could not be saved starts a new episode
            self.episodes.restart(i)
            if self.slots:
                self.buffer.start_episode(i)
            if self.start_episodes is not None:
                self.start_episodes(np.arange(self.run_cfg.num_envs) == i)
        self.skeleton.load_state_dict([loop])
        self.metrics = {k: v.to(self.device) for k, v in loop["metrics"].items()}  # the last update's, until the next

    # ---- one iteration: a step of every environment copy, then the updates it pays for
    def iterate(self) -> None:
        needs, n, prev = self.needs, self.run_cfg.num_envs, self.step
        if self.step < needs.learning_starts:
            env_action = random_actions(self.envs.single_action_space, n, self.np_rng)
        else:
            env_action = self.agent.explore(self.obs, self.step)
        next_obs, reward, term, trunc, info = self.envs.step(env_action)
        done = term | trunc
        real_next = true_next_obs(next_obs, done, info)
        if self.slots:
            self.buffer.add(self.obs, self.agent.to_policy_space(env_action), reward, real_next, term, trunc)
        elif self.writer is None:
            self.buffer.add(self.obs, self.agent.to_policy_space(env_action), reward, real_next, term)
        else:
            self.writer.add(self.obs, self.agent.to_policy_space(env_action), reward, real_next, term, trunc)
        self.obs = next_obs
        if self.start_episodes is not None and done.any():
            self.start_episodes(done)     # a policy with memory of the episode forgets the finished ones
        self.step += n
        self.episodes.step(reward, done, self.step, self.skeleton.logs[0])

        self._side_updates(prev)
        if prev >= needs.learning_starts:  # the first learning_starts steps only fill the buffer
            self.update_debt += n * needs.updates_per_step
            every = needs.update_every  # updates owed are paid in bursts every `every` steps
            while self.update_debt >= 1.0 and (every == 1 or self.step // every > prev // every):
                self.update_debt -= 1.0
                self.metrics = self.update(self._sample(needs.batch_size))
                self.skeleton.check_update(self.metrics)
        self.skeleton.evaluate_if_due(prev)

    def _side_updates(self, prev: int) -> None:
        """The models an agent trains beside its main update (spec: Transitions.side_updates), at the
        end of the warm-up and then every `every` environment steps after it."""
        start = self.needs.learning_starts
        for side in self.needs.side_updates:
            count = side.pretrain if prev < max(start, 1) and self.step >= start else 0   # the warm-up's end (or the start)
            if side.every and prev >= start and self.step // side.every > prev // side.every:
                count += side.count
            for _ in range(count):
                self.metrics = {**self.metrics, **getattr(self.agent, side.method)(self._sample(side.batch_size))}

    def _sample(self, batch_size: int):
        """A batch for an update: sequences when the spec asks for them, else transitions."""
        if self.needs.sequence_length:
            return self.buffer.sample_sequences(batch_size)
        return self.buffer.sample(batch_size)

    def run(self, callback=None) -> Path:
        return self.skeleton.run(callback)[0]

    def close(self) -> None:
        self.envs.close()
