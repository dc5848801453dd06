"""H-PPO: one clipped surrogate per actor, log-probabilities over each action's own parameters, the
hybrid probes through the real loop (state values and actions), resume equality. The rest of its
update is PPO's (tests/algos/test_ppo.py)."""
import gymnasium as gym
import pytest
import torch

import keelrl  # noqa: F401  (registers the environments)
from keelrl.algos.hppo import HPPOConfig
from keelrl.algos.ppo import PPOPolicy, clipped_surrogate_loss
from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), rollout_steps=64, num_minibatches=2, epochs=4, lr=3e-3, anneal_lr=False)


def test_two_heads_are_two_surrogates_summed():
    g = torch.Generator().manual_seed(0)
    logp, old, adv = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g), torch.randn(8, generator=g)
    both, _ = clipped_surrogate_loss(logp, old, adv, 0.2)
    each = [clipped_surrogate_loss(logp[:, h], old[:, h], adv, 0.2)[0] for h in range(2)]
    assert torch.allclose(both, each[0] + each[1])


def test_log_probability_covers_only_the_chosen_actions_parameters():
    space = gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Box(-1, 1, (3,))))
    policy = PPOPolicy(4, space, HPPOConfig(hidden_sizes=(8,)), ((0, 1), (1, 3)))
    obs = torch.randn(2, 4)
    dist = policy.distribution(obs)
    action = torch.tensor([[0.0, 0.1, 0.2, 0.3], [1.0, 0.1, 0.2, 0.3]])
    logp, _ = policy.log_prob_entropy(dist, action)
    per_dim = dist[1].log_prob(action[:, 1:])
    assert torch.allclose(logp[:, 0], dist[0].log_prob(torch.tensor([0, 1])))
    assert torch.allclose(logp[:, 1], torch.stack([per_dim[0, 0], per_dim[1, 1:].sum()]))
    changed = action.clone()
    changed[0, 2:] = 0.9                                   # action 0 does not read parameters 1 and 2
    assert torch.allclose(policy.log_prob_entropy(dist, changed)[0][0], logp[0])


@pytest.mark.parametrize("probe", ["ProbeConstant", "ProbeTwoStep"])
def test_probe_state_values(probe, tmp_path):
    agent = P.run_online("hppo", probe, CFG, 3000, tmp_path, hybrid=True)
    env = P.probe_env(probe, hybrid=True)
    for s in P.observations(probe):
        got, want = float(P.state_values(agent, [s])[0]), env.q_value(s, (0, 0.0), P.GAMMA)
        assert abs(got - want) < P.VALUE_TOL, f"{probe}: V({s}) = {got:.3f}, expected {want:.3f}"


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    P.check_hybrid_actions(P.run_online("hppo", probe, CFG, 4000, tmp_path, hybrid=True), probe)


def test_resumed_run_equals_uninterrupted(tmp_path):
    from tests.algos.resume import assert_online_resume_equal
    assert_online_resume_equal("hppo", HPPOConfig(**CFG), tmp_path, "keel/Platform-v0", 2, 512, 300)
