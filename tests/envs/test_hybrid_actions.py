"""The hybrid-action contract: Tuple(Discrete(K), Box(P)) spaces with each action's parameter slice,
their plain form in checkpoints, the flat form a policy emits and back, the batch and replay storage,
and space checks that say what a space is."""
import gymnasium as gym
import numpy as np
import pytest
import torch

import keelrl
from keelrl.algos import check_spaces, get_algo
from keelrl.data.replay import ReplayBuffer
from keelrl.envs.hybrid.actions import from_flat, own_parameters, to_env, to_flat
from keelrl.envs.spaces import hybrid_actions
from keelrl.errors import KeelError
from keelrl.types import Batch, HybridAction, Spaces

OBS = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)


def _hybrid(k=3, p=6, slices=None):
    return Spaces(OBS, gym.spaces.Tuple((gym.spaces.Discrete(k), gym.spaces.Box(-1, 1, (p,), np.float32))), slices)


def test_slices_default_to_an_equal_split_and_are_checked():
    assert _hybrid().param_slices == ((0, 2), (2, 4), (4, 6))
    assert _hybrid(2, 3).param_slices == ((0, 3), (0, 3))   # not divisible: every action reads all
    assert _hybrid(2, 3, ((0, 1), (1, 3))).param_slices == ((0, 1), (1, 3))
    with pytest.raises(ValueError, match="do not give each of the 3 discrete actions"):
        _hybrid(3, 3, ((0, 1), (1, 2)))
    s = _hybrid(3, 6, ((0, 1), (1, 4), (4, 6)))
    assert s.hybrid and not s.discrete and s.num_actions == 3 and s.param_dim == 6
    assert s.shape_text() == "observations [4], actions Tuple(Discrete(3), Box [6])"


def test_a_hybrid_space_round_trips_through_its_plain_form():
    s = _hybrid(3, 6, ((0, 1), (1, 4), (4, 6)))
    back = Spaces.from_dict(s.to_dict())
    assert back.action == s.action and back.param_slices == s.param_slices and back.observation == s.observation


def test_flat_form_and_back():
    index, params = torch.tensor([2, 0]), torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    flat = to_flat(index, params, 3)
    torch.testing.assert_close(flat, torch.tensor([[0, 0, 1, 0.1, 0.2, 0.3], [1, 0, 0, 0.4, 0.5, 0.6]]))
    k, p = from_flat(flat, 3)
    assert k.tolist() == [2, 0] and torch.equal(p, params)
    with pytest.raises(ValueError, match="K = 3"):
        from_flat(torch.zeros(2, 3), 3)
    env_index, env_params = to_env(k, p)
    assert env_index.dtype == np.int64 and env_params.dtype == np.float32


def test_each_action_sees_only_its_own_parameters():
    params = torch.arange(1.0, 7.0).repeat(2, 1)   # [[1..6], [1..6]]
    own = own_parameters(params, torch.tensor([1, 2]), ((0, 1), (1, 4), (4, 6)))
    assert own.tolist() == [[0, 2, 3, 4, 0, 0], [0, 0, 0, 0, 5, 6]]


def test_a_batch_and_the_replay_buffer_carry_index_and_parameters():
    spaces = Spaces.of(gym.make("keel/Platform-v0"))
    buffer = ReplayBuffer.for_spaces(100, spaces, seed=0)
    assert buffer.params is not None and buffer.action.dtype == torch.int64
    obs = np.random.default_rng(0).random((5, 9))
    buffer.add(obs, HybridAction(np.array([0, 1, 2, 1, 0]), np.arange(15.0).reshape(5, 3)), np.ones(5), obs, np.zeros(5))
    batch = buffer.sample(64)
    assert batch.params.shape == (64, 3) and batch.action.shape == (64,)
    rows = {tuple(r) for r in torch.cat([batch.action[:, None].float(), batch.params], 1).tolist()}
    assert rows <= {(k, 3 * i, 3 * i + 1, 3 * i + 2) for i, k in enumerate([0, 1, 2, 1, 0])}
    restored = ReplayBuffer.for_spaces(100, spaces, seed=0)
    restored.load_state_dict(buffer.state_dict())
    assert torch.equal(restored.params[:5], buffer.params[:5])
    with pytest.raises(ValueError, match="add\\(\\) takes a HybridAction"):
        buffer.add(obs, np.zeros(5), np.ones(5), obs, np.zeros(5))
    with pytest.raises(ValueError, match="does not store the policy's vectors"):
        buffer.add(obs, HybridAction(np.zeros(5), np.zeros((5, 3)), np.zeros((5, 4))), np.ones(5), obs, np.zeros(5))
    with_vectors = ReplayBuffer.for_spaces(100, spaces, seed=0, policy_action_dim=4)
    with_vectors.add(obs, HybridAction(np.zeros(5), np.zeros((5, 3)), np.ones((5, 4))), np.ones(5), obs, np.zeros(5))
    assert with_vectors.sample(8).policy_action.tolist() == [[1.0] * 4] * 8
    with pytest.raises(ValueError, match="stores the policy's vector"):
        with_vectors.add(obs, HybridAction(np.zeros(5), np.zeros((5, 3))), np.ones(5), obs, np.zeros(5))
    with pytest.raises(ValueError, match="hybrid Batch has action \\[B\\]"):
        Batch(batch.obs, batch.params, batch.reward, batch.next_obs, batch.terminated, None, batch.params)


def test_space_checks_say_what_the_space_is():
    platform = Spaces.of(gym.make("keel/Platform-v0"))
    with pytest.raises(KeelError, match=r"SAC needs continuous \(Box\) actions, but keel/Platform-v0 has hybrid actions "
                                        r"Tuple\(Discrete\(3\), Box\(3\)\)"):
        check_spaces(get_algo("sac"), platform, "keel/Platform-v0")
    assert hybrid_actions(platform, "keel/Platform-v0") is None
    pendulum = Spaces.of(gym.make("Pendulum-v1"))
    assert "needs hybrid actions, Tuple(Discrete(K), Box(P)), but Pendulum-v1 has Box" in hybrid_actions(pendulum, "Pendulum-v1")
    assert keelrl.Spaces is Spaces
    with pytest.raises(KeelError, match=r"SAC .* for hybrid actions use PDQN, MPDQN, PADDPG, HYAR or HPPO$"):
        check_spaces(get_algo("sac"), platform, "keel/Platform-v0")
    with pytest.raises(KeelError, match=r"HYAR needs hybrid actions.*; for continuous actions use SAC, TD3, DDPG or PPO$"):
        check_spaces(get_algo("hyar"), pendulum, "Pendulum-v1")
    cartpole = Spaces.of(gym.make("CartPole-v1"))
    with pytest.raises(KeelError, match=r"HPPO needs hybrid actions.*; for discrete actions use DQN or PPO$"):
        check_spaces(get_algo("hppo"), cartpole, "CartPole-v1")


def test_random_actions_of_each_kind_of_space():
    from keelrl.envs.spaces import random_actions
    platform = gym.make("keel/Platform-v0").action_space
    index, params = random_actions(platform, 64, np.random.default_rng(0))
    assert index.shape == (64,) and set(index.tolist()) == {0, 1, 2}
    assert params.shape == (64, 3) and params.dtype == np.float32
    assert (params >= platform.spaces[1].low).all() and (params <= platform.spaces[1].high).all()
    assert random_actions(gym.spaces.Discrete(4), 5, np.random.default_rng(0)).shape == (5,)
    box = random_actions(gym.spaces.Box(-2, 2, (3,)), 5, np.random.default_rng(0))
    assert box.shape == (5, 3) and np.abs(box).max() <= 2
