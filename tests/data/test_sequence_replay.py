"""The slot replay for pixels and sequences: transitions, stacks and sequences read back exactly
what was stepped, never across an episode's end unmasked, with every frame stored once."""
import numpy as np
import pytest
import torch

from keelrl.data.sequence_replay import SequenceReplayBuffer
from keelrl.errors import KeelError


def play(buf, lengths, num_envs=1, terminate=True, frame=None):
    """Step `num_envs` copies through episodes of the given lengths (copy i's e-th episode has
    lengths[(e + i) % len]); observation = frame(episode, t) with episode ids counted per copy
    (copy i's ids are i*1000 + e). Returns the number of steps taken."""
    frame = frame or (lambda ep, t: np.array([ep, t], np.float32))
    ep = [0] * num_envs
    t = [0] * num_envs
    steps = 0
    while ep[0] < len(lengths):
        obs = np.stack([frame(i * 1000 + ep[i], t[i]) for i in range(num_envs)])
        nxt = np.stack([frame(i * 1000 + ep[i], t[i] + 1) for i in range(num_envs)])
        done = np.array([t[i] + 1 == lengths[(ep[i] + i) % len(lengths)] for i in range(num_envs)])
        act = np.stack([[ep[i] + 0.5, t[i]] for i in range(num_envs)]).astype(np.float32)
        rew = np.array([t[i] for i in range(num_envs)], np.float32)
        buf.add(obs, act, rew, nxt, done & terminate, done & ~terminate)
        for i in range(num_envs):
            t[i], ep[i] = (0, ep[i] + 1) if done[i] else (t[i] + 1, ep[i])
        steps += 1
    return steps


def flat_buffer(capacity=64, num_envs=1, length=1, seed=0):
    return SequenceReplayBuffer(capacity, (2,), 2, num_envs, seed=seed, sequence_length=length, obs_dtype=torch.float32)


def test_transitions_are_real_consecutive_steps():
    buf = flat_buffer(capacity=200)
    play(buf, [5, 3, 7])
    assert len(buf) == 15
    b = buf.sample(500)
    ep, t = b.obs[:, 0], b.obs[:, 1]
    assert torch.equal(b.next_obs[:, 0], ep) and torch.equal(b.next_obs[:, 1], t + 1)
    assert torch.equal(b.action[:, 0], ep + 0.5) and torch.equal(b.action[:, 1], t) and torch.equal(b.reward, t)
    last = (t + 1) == torch.tensor([5.0, 3.0, 7.0])[ep.long()]
    assert torch.equal(b.terminated, last.float())
    # every stored transition is drawn, none twice as often as the others beyond chance
    keys = set(zip(ep.tolist(), t.tolist()))
    assert len(keys) == 15


@pytest.mark.parametrize("num_envs", [1, 3])
def test_sequences_never_cross_an_episode_unmasked(num_envs):
    buf = flat_buffer(capacity=300, num_envs=num_envs, length=4)
    play(buf, [2, 6, 4, 9, 1], num_envs=num_envs, terminate=False)
    s = buf.sample_sequences(400)
    assert s.obs.shape == (400, 5, 2) and s.action.shape == (400, 4, 2) and s.mask.shape == (400, 4)
    ep0, t0 = s.obs[:, 0, 0], s.obs[:, 0, 1]
    for step in range(4):
        m = s.mask[:, step].bool()
        # a step is unmasked exactly when the episode of step 0 is still going at that step
        length = torch.tensor([[2, 6, 4, 9, 1][(int(e) % 1000 + int(e) // 1000) % 5] for e in ep0])
        assert torch.equal(m, t0 + step < length)
        assert torch.equal(s.obs[m, step, 0], ep0[m]) and torch.equal(s.obs[m, step, 1], t0[m] + step)
        assert torch.equal(s.obs[m, step + 1, 1], t0[m] + step + 1)    # its next observation, the final one too
        assert torch.equal(s.action[m, step, 1], t0[m] + step)
        assert (s.action[~m, step] == 0).all() and (s.reward[~m, step] == 0).all()
    assert (s.mask[:, 0] == 1).all()
    # sequences start in every episode, also the one shorter than T (then mostly masked)
    assert {int(e) % 1000 for e in ep0} == {0, 1, 2, 3, 4}
    assert s.terminated.sum() == 0     # time limits only: truncations are not terminations


def test_running_episode_starts_only_once_its_steps_are_stored():
    buf = flat_buffer(capacity=100, length=4)
    obs = lambda t: np.array([[0, t]], np.float32)
    for t in range(3):
        buf.add(obs(t), np.zeros((1, 2)), np.zeros(1), obs(t + 1), np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="no sequence of 4 steps"):
        buf.sample_sequences(2)
    buf.add(obs(3), np.zeros((1, 2)), np.zeros(1), obs(4), np.zeros(1), np.zeros(1))
    s = buf.sample_sequences(50)
    assert (s.obs[:, 0, 1] == 0).all() and (s.mask == 1).all()


def stacked_frame(ep, t):
    """A 2-channel 3x3 'frame': channel 0 the episode, channel 1 the step."""
    f = np.zeros((2, 3, 3), np.uint8)
    f[0], f[1] = ep % 256, t
    return f


def stack(ep, t, k=3):
    """What a k-frame stack shows at step t: frames t-k+1..t, padded with the reset frame."""
    return np.concatenate([stacked_frame(ep, max(t - j, 0)) for j in range(k - 1, -1, -1)])


def test_frame_stacks_match_the_environments_and_frames_are_stored_once():
    buf = SequenceReplayBuffer(60, (6, 3, 3), 2, 1, sequence_length=3, frame_stack=3)
    assert buf.frames.shape == (1, 60, 2, 3, 3) and buf.frames.dtype == torch.uint8
    play(buf, [4, 6, 2, 5], frame=stack)
    b = buf.sample(300)
    assert b.obs.shape == (300, 6, 3, 3) and b.obs.dtype == torch.float32
    for o, n in zip(b.obs.numpy(), b.next_obs.numpy()):
        ep, t = int(o[4, 0, 0]), int(o[5, 0, 0])
        np.testing.assert_array_equal(o, stack(ep, t)) ; np.testing.assert_array_equal(n, stack(ep, t + 1))
    s = buf.sample_sequences(100)
    for seq, m in zip(s.obs.numpy(), s.mask.numpy()):
        ep, t0 = int(seq[0, 4, 0, 0]), int(seq[0, 5, 0, 0])
        for step in range(3):
            if m[step]:
                np.testing.assert_array_equal(seq[step + 1], stack(ep, t0 + step + 1))


def test_wrapping_withdraws_the_overwritten_and_the_stacks_that_read_them():
    buf = SequenceReplayBuffer(23, (6, 3, 3), 2, 1, sequence_length=2, frame_stack=3)
    lengths = [4, 7, 3, 5, 6, 2, 8]
    play(buf, lengths * 4, frame=stack)
    stored = int(buf._step_ok.sum())
    assert len(buf) == stored and 0 < stored < 23
    b = buf.sample(400)
    for o, n in zip(b.obs.numpy(), b.next_obs.numpy()):
        ep, t = int(o[4, 0, 0]), int(o[5, 0, 0])
        np.testing.assert_array_equal(o, stack(ep, t))
        np.testing.assert_array_equal(n, stack(ep, t + 1))
    s = buf.sample_sequences(400)
    for seq, m in zip(s.obs.numpy(), s.mask.numpy()):
        ep, t0 = int(seq[0, 4, 0, 0]), int(seq[0, 5, 0, 0])
        np.testing.assert_array_equal(seq[0], stack(ep, t0))
        for step in range(2):
            if m[step]:
                np.testing.assert_array_equal(seq[step + 1], stack(ep, t0 + step + 1))


def test_memory_is_stated_and_a_buffer_too_big_is_refused_in_one_line():
    buf = SequenceReplayBuffer(1000, (3, 64, 64), 6)
    assert buf.frame_bytes == 1000 * 3 * 64 * 64
    assert "per 100k" in buf.memory_text() and "1.1 GB of frames per 100k" in buf.memory_text()
    with pytest.raises(KeelError, match="lower --buffer-size") as e:
        SequenceReplayBuffer(10**12, (3, 64, 64), 6)
    assert "\n" not in str(e.value)


def test_state_dict_round_trip_continues_identically():
    a, b = flat_buffer(capacity=40, num_envs=2, length=3, seed=3), flat_buffer(capacity=40, num_envs=2, length=3, seed=9)
    play(a, [3, 5, 2, 6, 4, 7], num_envs=2)
    b.load_state_dict(a.state_dict())
    for buf in (a, b):
        play(buf, [2, 3], num_envs=2)
    assert len(a) == len(b)
    x, y = a.sample_sequences(64), b.sample_sequences(64)
    for f in ("obs", "action", "reward", "terminated", "mask"):
        assert torch.equal(getattr(x, f), getattr(y, f))
    assert torch.equal(a.sample(32).obs, b.sample(32).obs)


def test_bad_input_is_refused():
    with pytest.raises(KeelError, match="divide"):
        SequenceReplayBuffer(100, (7, 4, 4), 1, frame_stack=2)
    with pytest.raises(KeelError, match="at least"):
        SequenceReplayBuffer(10, (3,), 1, num_envs=4, sequence_length=8, obs_dtype=torch.float32)
    buf = flat_buffer()
    with pytest.raises(ValueError, match="add\\(\\) takes observations \\[1, 2\\]"):
        buf.add(np.zeros((1, 3)), np.zeros((1, 2)), np.zeros(1), np.zeros((1, 3)), np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="no transition"):
        buf.sample(4)


def test_an_episode_longer_than_the_stream_never_counts_its_earlier_lap():
    """12 slots, sequences of 4, one 30-step episode: a sequence near the stream's end must not run
    on into the slots that still hold the same episode's earlier steps."""
    buf = flat_buffer(capacity=12, length=4)
    play(buf, [30], terminate=False)
    s = buf.sample_sequences(300)
    m = s.mask.numpy()
    assert (np.diff(m, axis=1) <= 0).all()                     # once a step is out, the rest are out
    t0 = s.obs[:, 0, 1]
    for step in range(4):
        on = s.mask[:, step].bool()
        assert torch.equal(s.obs[on, step, 1], t0[on] + step)


def test_an_episode_cut_short_closes_and_the_next_add_starts_anew():
    """An environment restarted on resume: start_episode closes the open episode (its last starts
    become sequences, masked after it) and the next add stores the new observation's frames."""
    buf = flat_buffer(capacity=60, length=3)
    obs = lambda ep, t: np.array([[ep, t]], np.float32)
    for t in range(4):
        buf.add(obs(0, t), np.zeros((1, 2)), np.zeros(1), obs(0, t + 1), np.zeros(1), np.zeros(1))
    buf.start_episode(0)
    for t in range(4):
        buf.add(obs(1, t), np.zeros((1, 2)), np.zeros(1), obs(1, t + 1), np.zeros(1), np.zeros(1))
    b = buf.sample(400)
    assert torch.equal(b.next_obs[:, 0], b.obs[:, 0]) and torch.equal(b.next_obs[:, 1], b.obs[:, 1] + 1)
    s = buf.sample_sequences(400)
    starts = {(int(e), int(t)) for e, t in s.obs[:, 0].tolist()}
    assert (0, 3) in starts and (0, 2) in starts             # the cut episode's last steps start sequences
    for seq, m in zip(s.obs.numpy(), s.mask.numpy()):
        for step in range(3):
            if m[step]:
                assert seq[step + 1, 0] == seq[0, 0] and seq[step + 1, 1] == seq[0, 1] + step + 1
