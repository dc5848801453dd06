"""TD3 on the probe environments (tests/algos/probes.py): every probe of a continuous action space,
through the real loop, its learned Q-values and actions within the stated tolerance of the known answers.
Below, its pure functions against hand-computed references and its resume equality.
"""
import pytest
import torch

from keelrl.algos.td3 import deterministic_actor_loss, smoothed_target_action, td3_critic_loss
from keelrl.nn.actors import DeterministicActor
from keelrl.nn.ensemble import EnsembleCritic
from keelrl.types import Batch

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, learning_starts=50, buffer_size=5000, actor_lr=1e-3, critic_lr=3e-3, tau=0.05)
"""Small networks and fast learning rates; τ = 0.05 so that values propagate in a few hundred updates."""
STEPS = 400
ACTION_STEPS = 700
"""The deterministic actor settles on the best action more slowly than the critic learns the values."""


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, tmp_path):
    P.check_values(P.run_online("td3", probe, CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    P.check_actions(P.run_online("td3", probe, CFG, ACTION_STEPS, tmp_path), probe)


def test_bootstraps_from_the_target_networks(tmp_path):
    """Frozen targets (τ ≈ 0): Q(0, a) learns γ · min_i Q̄_i(1, μ'(1) + clipped noise), not γ · 1."""
    agent = P.run_online("td3", "ProbeTwoStep", {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    P.check_bootstrap(agent, P.smoothed_target_value(agent.ac))


# --------------------------------------------------------------------------- pure functions by hand

def linear_critic(scales, biases) -> EnsembleCritic:
    """N critics on a 1-D obs and 1-D action with Q_i(s, a) = scale_i · relu(s + a) + bias_i."""
    n = len(scales)
    critic = EnsembleCritic(n, obs_dim=1, act_dim=1, hidden=(1,))
    first, last = critic.net.layers
    with torch.no_grad():
        first.weight.fill_(1.0)                                  # [N, 2, 1]: s + a
        first.bias.zero_()
        last.weight.copy_(torch.tensor(scales, dtype=torch.float32).view(n, 1, 1))
        last.bias.copy_(torch.tensor(biases, dtype=torch.float32).view(n, 1, 1))
    return critic


def _batch(obs, action, reward, next_obs, terminated) -> Batch:
    col = lambda x: torch.tensor(x).view(-1, 1)  # noqa: E731
    return Batch(col(obs), col(action), torch.tensor(reward), col(next_obs), torch.tensor(terminated))


def test_td3_critic_loss_by_hand():
    critic = linear_critic([1.0, 3.0], [0.0, -1.0])
    target = linear_critic([2.0, 1.0], [0.0, 1.0])
    batch = _batch([1.0, 2.0], [0.5, -1.0], [1.0, 2.0], [0.5, 3.0], [0.0, 1.0])
    next_action = torch.zeros(2, 1)
    # Q̄_1(s', ã) = 2·(.5, 3) = (1, 6), Q̄_2 = (.5, 3) + 1 = (1.5, 4): min = (1, 4)
    # y = (1 + .9·1, 2 + 0 (terminated)) = (1.9, 2)
    # Q_1(s, a) = (1.5, 1), Q_2 = 3·(1.5, 1) - 1 = (3.5, 2)
    # J = mean((1.5-1.9)², (1-2)²) + mean((3.5-1.9)², 0) = .58 + 1.28
    loss, info = td3_critic_loss(critic, target, batch, next_action, gamma=0.9)
    assert loss.item() == pytest.approx(1.86, abs=1e-6)
    assert info["q_mean"].item() == pytest.approx((1.5 + 1 + 3.5 + 2) / 4)
    loss.backward()
    assert all(p.grad is None for p in target.parameters())      # the target is not trained
    # dJ/dbias_i = 2 mean(Q_i - y): critic 1: 2·mean(-.4, -1) = -1.4, critic 2: 2·mean(1.6, 0) = 1.6
    torch.testing.assert_close(critic.net.layers[1].bias.grad.view(-1), torch.tensor([-1.4, 1.6]))


def test_td3_critic_loss_takes_the_min_over_target_critics():
    torch.manual_seed(0)
    critic, target = EnsembleCritic(2, 3, 2, (8, 8)), EnsembleCritic(2, 3, 2, (8, 8))
    b = 5
    batch = Batch(torch.randn(b, 3), torch.rand(b, 2) * 2 - 1, torch.randn(b), torch.randn(b, 3),
                  torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0]))
    next_action = torch.rand(b, 2) * 2 - 1
    loss, _ = td3_critic_loss(critic, target, batch, next_action, gamma=0.99)
    with torch.no_grad():
        q1_next, q2_next = target(batch.next_obs, next_action)
        y = batch.reward + 0.99 * (1 - batch.terminated) * torch.minimum(q1_next, q2_next)
        q1, q2 = critic(batch.obs, batch.action)
        expected = ((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_td3_critic_loss_checks_the_action_shape():
    critic = linear_critic([1.0], [0.0])
    batch = _batch([1.0, 2.0], [0.5, -1.0], [1.0, 2.0], [0.5, 3.0], [0.0, 1.0])
    with pytest.raises(AssertionError, match="next_action"):
        td3_critic_loss(critic, critic, batch, torch.zeros(2), 0.9)


def test_smoothed_target_action_noise_and_action_clipping():
    torch.manual_seed(0)
    actor = DeterministicActor(3, 2, (8,))
    next_obs = torch.randn(512, 3)
    mu = actor(next_obs).detach()
    c = 0.3
    a = smoothed_target_action(actor, next_obs, policy_noise=1e6, noise_clip=c).detach()
    assert a.abs().max() <= 1.0
    noise = a - mu
    assert noise.abs().max() <= c + 1e-6
    inside = (a.abs() < 1.0)          # where the action was not clipped, σ̃ = 1e6 puts the noise at ±c
    assert inside.any()
    torch.testing.assert_close(noise[inside].abs(), torch.full_like(noise[inside], c))
    # a noise clip above 2 leaves only the action clip: every action is then at ±1
    wide = smoothed_target_action(actor, next_obs, policy_noise=1e6, noise_clip=5.0)
    assert set(wide.flatten().tolist()) == {-1.0, 1.0}


def test_smoothed_target_action_without_noise_is_the_target_actor():
    torch.manual_seed(1)
    actor = DeterministicActor(3, 2, (8,))
    next_obs = torch.randn(7, 3) * 10
    torch.testing.assert_close(smoothed_target_action(actor, next_obs, 0.0, 0.5), actor(next_obs))


def test_deterministic_actor_loss_by_hand():
    q_pi = torch.tensor([1.0, 3.0, -1.0], requires_grad=True)
    loss, info = deterministic_actor_loss(q_pi)
    assert loss.item() == pytest.approx(-1.0) and info["loss_pi"].item() == pytest.approx(-1.0)
    loss.backward()
    torch.testing.assert_close(q_pi.grad, torch.full((3,), -1.0 / 3))   # ascent on Q
    with pytest.raises(AssertionError, match="q_pi"):
        deterministic_actor_loss(torch.zeros(3, 1))



# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tmp_path):
    from keelrl.algos import TD3Config
    from tests.algos.resume import assert_online_resume_equal
    assert_online_resume_equal("td3", TD3Config(hidden_sizes=(16, 16), batch_size=32, learning_starts=100, buffer_size=5000), tmp_path, "Pendulum-v1", 1, 400, 231)
