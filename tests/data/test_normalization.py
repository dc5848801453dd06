"""Running statistics, observation normalization and reward scaling against numpy on all the data."""
import numpy as np
import pytest

from keelrl.data.normalization import ObservationNormalizer, RewardScaler, RunningMeanStd
import torch
from keelrl.data.normalization import FixedNormalizer

PRIOR = 1e-4   # RunningMeanStd starts from mean 0, var 1 with this pseudo-count


def _with_prior(x: np.ndarray):
    """Exact mean and variance of the data merged with the prior (mean 0, var 1, count PRIOR)."""
    n, m, v = x.shape[0], x.mean(0), x.var(0)
    total = n + PRIOR
    mean = n * m / total
    var = (PRIOR * 1.0 + n * v + m ** 2 * PRIOR * n / total) / total
    return mean, var


def _batches(seed=0, sizes=(1, 5, 17, 3, 40)):
    rng = np.random.default_rng(seed)
    return [rng.normal(3.0, 2.0, size=(k, 3)) * np.array([1.0, 10.0, 0.1]) for k in sizes]


def test_running_mean_std_equals_numpy_on_all_the_data():
    rms = RunningMeanStd((3,))
    batches = _batches()
    for b in batches:
        rms.update(b)
    data = np.concatenate(batches)
    assert rms.count == pytest.approx(data.shape[0] + PRIOR)
    mean, var = _with_prior(data)
    np.testing.assert_allclose(rms.mean, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rms.var, var, rtol=1e-12, atol=1e-12)
    # the prior is 1e-4 of 66 samples: numpy's statistics agree to about 1e-6 · (1 + mean²) / var relative
    np.testing.assert_allclose(rms.mean, data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(rms.var, data.var(0), rtol=1e-4)


def test_batch_order_and_split_do_not_matter():
    data = np.concatenate(_batches(seed=1))
    one, many = RunningMeanStd((3,)), RunningMeanStd((3,))
    one.update(data)
    for b in np.array_split(data[::-1], 7):
        many.update(b)
    np.testing.assert_allclose(many.mean, one.mean, rtol=1e-12)
    np.testing.assert_allclose(many.var, one.var, rtol=1e-12)


def test_running_mean_std_state_dict_round_trip_is_a_copy():
    rms = RunningMeanStd((3,))
    rms.update(_batches()[1])
    state = rms.state_dict()
    other = RunningMeanStd((3,))
    other.load_state_dict(state)
    rms.update(_batches()[2])           # the saved state does not move with the original
    assert not np.allclose(other.mean, rms.mean)
    other.update(_batches()[2])
    np.testing.assert_array_equal(other.mean, rms.mean)
    np.testing.assert_array_equal(other.var, rms.var)


def test_observation_normalizer_normalizes_and_clips():
    norm = ObservationNormalizer(obs_dim=2, clip=1.5)
    data = np.array([[0.0, 10.0], [2.0, 20.0], [4.0, 30.0]], np.float32)
    out = norm(data, update=True)
    mean, var = _with_prior(data.astype(np.float64))
    expected = np.clip((data - mean) / np.sqrt(var + 1e-8), -1.5, 1.5)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    far = norm(np.array([[100.0, -100.0]], np.float32))
    assert far.tolist() == [[1.5, -1.5]]                          # clipped to ±c
    count = norm.rms.count
    norm(np.array([[100.0, -100.0]], np.float32))                 # update=False leaves the statistics alone
    assert norm.rms.count == count


def test_reward_scaler_running_return_resets_at_episode_ends():
    gamma, eps = 0.9, 1e-8
    scaler = RewardScaler(num_envs=2, gamma=gamma, clip=100.0, epsilon=eps)
    rewards = np.array([[1.0, 2.0], [1.0, -1.0], [3.0, 0.5], [2.0, 1.0], [-1.0, 4.0]])
    ends = np.array([[0, 0], [1, 0], [0, 0], [0, 1], [0, 0]], bool)
    g = np.zeros(2)
    seen = []
    for r, end in zip(rewards, ends):
        out = scaler(r, end)
        g = gamma * g + r                      # G_t = γ G_{t-1} + r_t, reset after an episode end
        seen.append(g.copy())
        _, var = _with_prior(np.concatenate(seen))
        np.testing.assert_allclose(out, r / np.sqrt(var + eps), rtol=1e-6)     # scaled, not centred
        g[end] = 0.0
        np.testing.assert_allclose(scaler.returns, g)
    # by hand: copy 0 ended at step 1, so at step 2 its return is 3, not .81·... + 3
    assert seen[2][0] == pytest.approx(3.0) and seen[4][1] == pytest.approx(4.0)


def test_reward_scaler_clips():
    scaler = RewardScaler(num_envs=1, gamma=0.99, clip=0.5)
    for _ in range(5):
        scaler(np.array([1.0]), np.array([False]))
    assert scaler(np.array([1e6]), np.array([False])).tolist() == [0.5]
    assert scaler(np.array([-1e6]), np.array([False])).tolist() == [-0.5]


def test_reward_scaler_state_dict_round_trip():
    a = RewardScaler(num_envs=2, gamma=0.9, clip=10.0)
    a(np.array([1.0, 2.0]), np.array([False, False]))
    b = RewardScaler(num_envs=2, gamma=0.9, clip=10.0)
    b.load_state_dict(a.state_dict())
    r, end = np.array([0.5, -3.0]), np.array([True, False])
    np.testing.assert_array_equal(a(r, end), b(r, end))
    np.testing.assert_array_equal(a.returns, b.returns)


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


def test_fixed_normalizer():
    norm = FixedNormalizer(2, "cpu")
    torch.testing.assert_close(norm(np.array([[3.0, 6.0]])), T([[3.0, 6.0]]))       # the identity before set
    mean, std = T([1.0, 2.0]), T([2.0, 4.0])
    norm.set(mean, std)
    mean.add_(100.0)                                                                  # set copies
    torch.testing.assert_close(norm(np.array([[3.0, 6.0], [1.0, 2.0]], np.float64)), T([[1.0, 1.0], [0.0, 0.0]]))
    out = norm(T([[5.0, 10.0]]))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, T([[2.0, 2.0]]))
    other = FixedNormalizer(2, "cpu")
    other.load_state_dict(norm.state_dict())
    torch.testing.assert_close(other(T([[5.0, 10.0]])), T([[2.0, 2.0]]))

