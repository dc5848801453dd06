"""Data of random numbers in the library's own data classes: what `keel bench` times learners on,
and what tests use when no environment needs stepping."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from keelrl.data.offline import OfflineDataset
from keelrl.data.replay import ReplayBuffer
from keelrl.data.rollout import RolloutBuffer
from keelrl.types import HybridAction, Spaces


def box_spaces(obs_dim: int, act_dim: int) -> Spaces:
    """Flat unbounded observations [O] and actions in [-1, 1]^A."""
    return Spaces(gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32), gym.spaces.Box(-1, 1, (act_dim,), np.float32))


def discrete_spaces(obs_dim: int, num_actions: int) -> Spaces:
    """Flat unbounded observations [O] and Discrete(K) actions."""
    return Spaces(gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32), gym.spaces.Discrete(num_actions))


def hybrid_spaces(obs_dim: int, num_actions: int, param_dim: int) -> Spaces:
    """Flat unbounded observations [O] and hybrid actions: Discrete(K) with P parameters in [-1, 1]
    split equally among them."""
    return Spaces(gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32),
                  gym.spaces.Tuple((gym.spaces.Discrete(num_actions), gym.spaces.Box(-1, 1, (param_dim,), np.float32))))


def pixel_spaces(channels: int, size: int, act_dim: int) -> Spaces:
    """uint8 frames [channels, size, size] and actions Box(-1, 1, (act_dim,))."""
    return Spaces(gym.spaces.Box(0, 255, (channels, size, size), np.uint8),
                  gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32))


def filled_frame_replay(spaces: Spaces, fill: int, device: torch.device | str = "cpu", seed: int = 0,
                        sequence_length: int = 1, episode: int = 1000):
    """A SequenceReplayBuffer of `fill` steps of random frames and actions, one copy, episodes of
    `episode` steps (the frames of a step are its own: no frame stacking)."""
    from keelrl.data.sequence_replay import SequenceReplayBuffer
    rng = np.random.default_rng(seed)
    shape, a = spaces.observation.shape, spaces.act_dim
    buf = SequenceReplayBuffer(fill + fill // episode + 2, shape, a, 1, device, seed, sequence_length)
    obs = rng.integers(0, 256, (1, *shape), dtype=np.uint8)
    for t in range(fill):
        nxt = rng.integers(0, 256, (1, *shape), dtype=np.uint8)
        end = (t + 1) % episode == 0
        buf.add(obs, rng.uniform(-1, 1, (1, a)), rng.normal(size=1), nxt, np.zeros(1), np.array([end]))
        obs = nxt
    return buf


def _random_transitions(rng: np.random.Generator, obs_dim: int, actions: np.ndarray, fill: int) -> tuple:
    """(obs, action, reward, next_obs, terminated) of `fill` random steps, 1% of them terminal."""
    return (rng.normal(size=(fill, obs_dim)), actions, rng.normal(size=fill), rng.normal(size=(fill, obs_dim)),
            (rng.random(fill) < 0.01).astype(np.float32))


def filled_replay_buffer(spaces: Spaces, fill: int, device: torch.device | str = "cpu", seed: int = 0,
                         policy_action_dim: int = 0) -> ReplayBuffer:
    """A ReplayBuffer holding `fill` random transitions of `spaces` (uniform actions in [-1, 1] or
    0..K-1; hybrid: an index, parameters and, when `policy_action_dim` > 0, policy vectors in [-1, 1])."""
    rng = np.random.default_rng(seed)
    if spaces.hybrid:
        actions = HybridAction(rng.integers(0, spaces.num_actions, fill), rng.uniform(-1, 1, (fill, spaces.param_dim)),
                               rng.uniform(-1, 1, (fill, policy_action_dim)) if policy_action_dim else None)
    else:
        actions = (rng.integers(0, spaces.num_actions, fill) if spaces.discrete
                   else rng.uniform(-1, 1, (fill, spaces.act_dim)))
    buf = ReplayBuffer.for_spaces(fill, spaces, device, seed=seed, policy_action_dim=policy_action_dim)
    buf.add(*_random_transitions(rng, spaces.obs_dim, actions, fill))
    return buf


def synthetic_dataset(obs_dim: int, act_dim: int, fill: int, device: torch.device | str = "cpu",
                      seed: int = 0) -> OfflineDataset:
    """An OfflineDataset of `fill` random transitions in episodes of 100 (no environment: it cannot be evaluated)."""
    rng = np.random.default_rng(seed)
    t = lambda x: torch.as_tensor(np.asarray(x, np.float32), device=device)  # noqa: E731
    data = OfflineDataset("synthetic", t(rng.normal(size=(fill, obs_dim))), t(rng.uniform(-1, 1, (fill, act_dim))),
                          t(rng.normal(size=fill)), t(rng.normal(size=(fill, obs_dim))), t(rng.random(fill) < 0.01),
                          rng.normal(size=100), gym.spaces.Box(-np.inf, np.inf, (obs_dim,)),
                          gym.spaces.Box(-1, 1, (act_dim,)))
    data.episode = torch.arange(fill, device=device) // 100     # episodes of 100 steps
    data.seed(seed)
    return data


def random_rollout(agent, spaces: Spaces, steps: int, device: torch.device | str = "cpu", seed: int = 0) -> RolloutBuffer:
    """A RolloutBuffer of `steps` steps of one copy: random observations, rewards and next observations,
    the agent's own sampled actions (`agent.sample`), log-probabilities and values, an episode end every ~1000 steps."""
    roll = RolloutBuffer.for_spaces(steps, 1, spaces, device)
    rng = np.random.default_rng(seed)
    obs_dim = spaces.obs_dim
    for _ in range(steps):
        obs = torch.as_tensor(rng.normal(size=(1, obs_dim)), dtype=torch.float32, device=device)
        action, log_prob, value = agent.sample(obs)
        done = rng.random(1) < 0.001
        roll.add(obs, action, log_prob, value, rng.normal(size=1), rng.normal(size=(1, obs_dim)), done, done)
    return roll
