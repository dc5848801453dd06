"""The dataset preprocessing an algorithm's spec asks for (train/offline.py's prepare_dataset),
against numbers worked out by hand."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from keelrl.algos import ALGOS, BCConfig, CQLConfig, IQLConfig, SACNConfig
from keelrl.data.offline import OfflineDataset
from keelrl.train.offline import prepare_dataset


def _data() -> OfflineDataset:
    obs = torch.tensor([[0.0, 10.0], [2.0, 10.0], [4.0, 13.0]])
    next_obs = torch.tensor([[2.0, 10.0], [4.0, 13.0], [6.0, 16.0]])
    # two episodes of returns 3 and -1 (episode_returns is what the reward scale is computed from)
    return OfflineDataset("t/x-v0", obs, torch.zeros(3, 1), torch.tensor([1.0, 2.0, -1.0]), next_obs,
                          torch.tensor([0.0, 1.0, 0.0]), np.array([3.0, -1.0]),
                          gym.spaces.Box(-np.inf, np.inf, (2,)), gym.spaces.Box(-1, 1, (1,)))


def test_iql_scales_rewards_by_1000_over_the_return_range_and_standardizes_states():
    data = _data()
    stats = prepare_dataset(data, ALGOS['iql'].needs(IQLConfig()))
    assert torch.allclose(data.reward, torch.tensor([1.0, 2.0, -1.0]) * 1000.0 / 4.0)   # range 3 - (-1) = 4
    mean = torch.tensor([2.0, 11.0])
    std = torch.tensor([2.0, float(np.std([10.0, 10.0, 13.0], ddof=1))]) + 1e-3            # torch.std: n - 1
    assert torch.allclose(stats[0], mean) and torch.allclose(stats[1], std)
    assert torch.allclose(data.obs, (torch.tensor([[0.0, 10.0], [2.0, 10.0], [4.0, 13.0]]) - mean) / std)
    assert torch.allclose(data.next_obs[2], (torch.tensor([6.0, 16.0]) - mean) / std)   # the same statistics as obs


def test_cql_reward_scale_and_bias_apply_after_the_optional_normalization():
    data = _data()
    prepare_dataset(data, ALGOS['cql'].needs(CQLConfig(reward_scale=5.0, reward_bias=-1.0, normalize_obs=False)))
    assert torch.allclose(data.reward, torch.tensor([4.0, 9.0, -6.0]))
    data = _data()
    prepare_dataset(data, ALGOS['cql'].needs(CQLConfig(normalize_reward=True, reward_scale=2.0, normalize_obs=False)))
    assert torch.allclose(data.reward, torch.tensor([1.0, 2.0, -1.0]) * 250.0 * 2.0)


@pytest.mark.parametrize("name, cfg", [("sac_n", SACNConfig()), ("bc", BCConfig(normalize_obs=False))])
def test_configs_without_preprocessing_leave_the_data_alone(name, cfg):
    data = _data()
    assert prepare_dataset(data, ALGOS[name].needs(cfg)) is None
    ref = _data()
    for k in ("obs", "reward", "next_obs"):
        assert torch.equal(getattr(data, k), getattr(ref, k))


def test_fingerprint_is_taken_before_preprocessing():
    data = _data()
    before = data.fingerprint()
    prepare_dataset(data, ALGOS['iql'].needs(IQLConfig()))
    assert data.fingerprint() == before and before["reward_sum"] == 2.0 and before["obs_sum"] == 39.0
