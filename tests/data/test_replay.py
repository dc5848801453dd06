"""Replay buffer: circular insert, sampling, state round trip; and what the loop stores in it."""
import numpy as np
import torch

from keelrl.data.replay import ReplayBuffer
from keelrl.envs.make import make_vector_env


def _fill(buf, start, n):
    x = np.arange(start, start + n, dtype=np.float32)
    buf.add(x[:, None].repeat(2, 1), x[:, None], x, x[:, None].repeat(2, 1) + 1, np.zeros(n))


def test_circular_insert_overwrites_oldest():
    buf = ReplayBuffer(5, obs_dim=2, act_dim=1)
    _fill(buf, 0, 3)
    _fill(buf, 3, 4)
    assert len(buf) == 5 and buf.ptr == 2
    assert sorted(buf.reward.tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]


def test_sample_shapes_and_consistency():
    buf = ReplayBuffer(100, 2, 1, seed=3)
    _fill(buf, 0, 50)
    b = buf.sample(16)
    assert b.obs.shape == (16, 2) and b.action.shape == (16, 1) and b.reward.shape == (16,)
    torch.testing.assert_close(b.obs[:, 0], b.reward)           # rows stay aligned
    torch.testing.assert_close(b.next_obs[:, 0], b.reward + 1)
    assert b.reward.max() < 50


def test_state_dict_round_trip_continues_the_same_samples():
    a = ReplayBuffer(100, 2, 1, seed=7)
    _fill(a, 0, 60)
    a.sample(8)
    state = a.state_dict()
    assert state["obs"].shape[0] == 60          # only the filled part is saved
    b = ReplayBuffer(100, 2, 1, seed=0)
    b.load_state_dict(state)
    torch.testing.assert_close(a.sample(8).reward, b.sample(8).reward)


def test_truncation_keeps_the_final_observation_and_is_not_a_termination():
    """Pendulum ends only by its 200-step time limit: SAME_STEP autoreset hands us the true last
    observation in final_obs, and `terminated` stays 0 so the target bootstraps."""
    envs = make_vector_env("Pendulum-v1", 1)
    obs, _ = envs.reset(seed=0)
    for t in range(200):
        obs, r, term, trunc, info = envs.step(np.zeros((1, 1), dtype=np.float32))
    assert trunc[0] and not term[0]
    final = info["final_obs"][0]
    assert not np.allclose(final, obs[0])       # obs is already the next episode's first one


def test_termination_is_flagged():
    envs = make_vector_env("InvertedPendulum-v5", 1)
    envs.reset(seed=0)
    for _ in range(1000):
        _, _, term, trunc, _ = envs.step(np.full((1, 1), 3.0, dtype=np.float32))
        if term[0] or trunc[0]:
            break
    assert term[0] and not trunc[0]
