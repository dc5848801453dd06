"""NStepWriter into a real ReplayBuffer: every stored transition against hand-computed values."""
import copy

import numpy as np
import pytest
import torch

from keelrl.data.nstep import NStepWriter
from keelrl.data.replay import ReplayBuffer
from keelrl.state_file import read_state, write_state

N, GAMMA, T = 3, 0.5, 6
# copy 0 terminates at step 3 (episode of 4 steps), then starts a new one; copy 1 is truncated at step 1
TERM = np.array([[0, 0], [0, 0], [0, 0], [1, 0], [0, 0], [0, 0]], bool)
TRUNC = np.array([[0, 0], [0, 1], [0, 0], [0, 0], [0, 0], [0, 0]], bool)
REWARD = np.array([[1.0, 3.0], [2.0, 5.0], [4.0, 7.0], [8.0, 11.0], [16.0, 13.0], [32.0, 17.0]])


def obs(t, i):
    return np.array([10.0 * i + t, -(10.0 * i + t)], np.float32)


def next_obs(t, i):    # the true next observation (the final one at an episode end)
    return obs(t, i) + 0.5


def action(t, i):
    return np.array([(100.0 * i + t) / 1000.0], np.float32)


def step_args(t):
    return (np.stack([obs(t, 0), obs(t, 1)]), np.stack([action(t, 0), action(t, 1)]), REWARD[t],
            np.stack([next_obs(t, 0), next_obs(t, 1)]), TERM[t], TRUNC[t])


def make():
    buffer = ReplayBuffer(64, obs_dim=2, act_dim=1, with_discount=True)
    return buffer, NStepWriter(buffer, N, GAMMA, num_envs=2)


def R(i, *ts):
    """Σ_k γ^k r_{t_k} of copy i."""
    return sum(GAMMA ** k * REWARD[t, i] for k, t in enumerate(ts))


# (copy, step t, R, bootstrap step, terminated, m), in the order they are written
EXPECTED = [
    (1, 0, R(1, 0, 1), 1, 0.0, 2),          # step 1: copy 1 truncated, both pending steps flushed
    (1, 1, R(1, 1), 1, 0.0, 1),
    (0, 0, R(0, 0, 1, 2), 2, 0.0, 3),       # step 2: copy 0 holds 3 steps: the oldest is written
    (0, 1, R(0, 1, 2, 3), 3, 1.0, 3),       # step 3: copy 0 terminated, steps 1..3 flushed
    (0, 2, R(0, 2, 3), 3, 1.0, 2),
    (0, 3, R(0, 3), 3, 1.0, 1),
    (1, 2, R(1, 2, 3, 4), 4, 0.0, 3),       # steps 4, 5: copy 1's window is full again
    (1, 3, R(1, 3, 4, 5), 5, 0.0, 3),
]


def _stored(buffer):
    n = len(buffer)
    return {f: getattr(buffer, f)[:n] for f in ("obs", "action", "reward", "next_obs", "terminated", "discount")}


def test_needs_a_buffer_with_discounts():
    with pytest.raises(ValueError, match="with_discount=True"):
        NStepWriter(ReplayBuffer(8, 2, 1), N, GAMMA, 2)


def test_every_stored_transition_by_hand():
    buffer, writer = make()
    sizes = []
    for t in range(T):
        writer.add(*step_args(t))
        sizes.append(len(buffer))
    assert sizes == [0, 2, 3, 6, 7, 8]
    s = _stored(buffer)
    for row, (i, t, ret, boot, term, m) in enumerate(EXPECTED):
        torch.testing.assert_close(s["obs"][row], torch.tensor(obs(t, i)), msg=f"row {row}")
        torch.testing.assert_close(s["action"][row], torch.tensor(action(t, i)), msg=f"row {row}")
        assert s["reward"][row].item() == pytest.approx(ret, rel=1e-6), row
        torch.testing.assert_close(s["next_obs"][row], torch.tensor(next_obs(boot, i)), msg=f"row {row}")
        assert s["terminated"][row].item() == term, row
    for row, expected in enumerate(EXPECTED):   # γ^m, m the steps the return sums (fewer at an episode end)
        assert s["discount"][row].item() == pytest.approx(GAMMA ** expected[5]), row
    # what is still pending: copy 0's new episode (steps 4, 5), copy 1's steps 4, 5
    assert [[float(r) for _, _, r in w] for w in writer.pending] == [[16.0, 32.0], [13.0, 17.0]]


def test_discount_is_gamma_to_the_steps_taken():
    buffer, writer = make()
    for t in range(T):
        writer.add(*step_args(t))
    torch.testing.assert_close(_stored(buffer)["discount"], torch.tensor([GAMMA ** e[5] for e in EXPECTED]))


def test_terminated_and_truncated_episodes_do_not_leak_into_the_next():
    buffer, writer = make()
    for t in range(T):
        writer.add(*step_args(t))
    s = _stored(buffer)
    # no transition of copy 0 before its termination bootstraps from a step of its next episode
    for row, (i, t, *_rest) in enumerate(EXPECTED):
        if i == 0:
            assert s["next_obs"][row, 0].item() <= next_obs(3, 0)[0]
    # copy 1's first transition after the truncation starts from step 2 alone
    assert s["reward"][6].item() == pytest.approx(7.0 + 0.5 * 11.0 + 0.25 * 13.0)


def test_state_dict_round_trip_continues_identically(tmp_path):
    buffer, writer = make()
    for t in range(3):
        writer.add(*step_args(t))
    # a checkpoint: writer and buffer through a state file, as the training loop writes them
    write_state({"nstep": writer.state_dict(), "buffer": buffer.state_dict()}, tmp_path / "c.pt")
    state = read_state(tmp_path / "c.pt")
    buffer2, writer2 = make()
    buffer2.load_state_dict(state["buffer"])
    writer2.load_state_dict(copy.deepcopy(state["nstep"]))
    for t in range(3, T):
        writer.add(*step_args(t))
        writer2.add(*step_args(t))
    a, b = _stored(buffer), _stored(buffer2)
    assert len(buffer) == len(buffer2) == 8 and buffer.ptr == buffer2.ptr
    for f in a:
        assert torch.equal(a[f], b[f]), f
    assert [[r for _, _, r in w] for w in writer.pending] == [[r for _, _, r in w] for w in writer2.pending]
