"""TD3/DDPG, DQN and PPO pure losses against hand-computed references on tiny tensors."""
import math

import pytest
import torch

from keelrl.algos.dqn import linear_epsilon, q_regression_loss, q_target
from keelrl.algos.ppo import PPOConfig, clipped_surrogate_loss, ppo_loss, value_loss
from keelrl.algos.td3 import deterministic_actor_loss, smoothed_target_action, td3_critic_loss
from keelrl.nn.actors import DeterministicActor
from keelrl.nn.ensemble import EnsembleCritic
from keelrl.nn.qnets import QNetwork
from keelrl.types import Batch


# --------------------------------------------------------------------------- TD3 / DDPG

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


# --------------------------------------------------------------------------- DQN

Q_NEXT_TARGET = torch.tensor([[1.0, 5.0, 3.0], [2.0, 0.0, 4.0]])
Q_NEXT_ONLINE = torch.tensor([[0.0, 1.0, 9.0], [7.0, 1.0, 2.0]])


@pytest.mark.parametrize("terminated, dqn, double", [
    # DQN: a* = argmax Q̄ = (1, 2) -> (5, 4); Double DQN: a* = argmax Q = (2, 0) -> Q̄ values (3, 2)
    ([0.0, 0.0], [1 + 0.9 * 5, -1 + 0.81 * 4], [1 + 0.9 * 3, -1 + 0.81 * 2]),
    ([0.0, 1.0], [1 + 0.9 * 5, -1.0], [1 + 0.9 * 3, -1.0]),
])
def test_q_target_dqn_and_double_dqn_by_hand(terminated, dqn, double):
    r, d = torch.tensor([1.0, -1.0]), torch.tensor(terminated)
    discount = torch.tensor([0.9, 0.81])        # γ, and γ² for a 2-step transition
    torch.testing.assert_close(q_target(r, d, discount, Q_NEXT_TARGET), torch.tensor(dqn))
    torch.testing.assert_close(q_target(r, d, discount, Q_NEXT_TARGET, Q_NEXT_ONLINE), torch.tensor(double))


def test_q_target_checks_shapes():
    with pytest.raises(AssertionError, match="shapes"):
        q_target(torch.zeros(3), torch.zeros(3), torch.zeros(3), Q_NEXT_TARGET)


@pytest.mark.parametrize("kind, expected, grad", [
    # errors (-.5, 3): Huber = mean(½·.25, 3 - ½) = 1.3125; ½ x² = ½ mean(.25, 9) = 2.3125
    ("huber", 1.3125, [-0.25, 0.5]),       # Huber's gradient is the error clipped to ±1, over B
    ("mse", 2.3125, [-0.25, 1.5]),
])
def test_q_regression_loss_by_hand(kind, expected, grad):
    q = torch.tensor([0.0, 3.0], requires_grad=True)
    loss, info = q_regression_loss(q, torch.tensor([0.5, 0.0]), kind)
    assert loss.item() == pytest.approx(expected)
    assert info["q_mean"].item() == pytest.approx(1.5)
    loss.backward()
    torch.testing.assert_close(q.grad, torch.tensor(grad))


@pytest.mark.parametrize("step, eps", [(0, 1.0), (25, 0.775), (50, 0.55), (100, 0.1), (10_000, 0.1)])
def test_linear_epsilon(step, eps):
    assert linear_epsilon(step, 1.0, 0.1, 100) == pytest.approx(eps)


def test_linear_epsilon_without_decay_is_the_end_value():
    assert linear_epsilon(0, 1.0, 0.05, 0) == 0.05


def test_dueling_q_network_centres_the_advantages():
    torch.manual_seed(0)
    net = QNetwork(4, 3, (8, 8), dueling=True)
    obs = torch.randn(6, 4)
    q = net(obs)
    h = net.trunk(obs)
    adv, v = net.advantage(h), net.value(h)
    assert q.shape == (6, 3)
    # Q - mean_a Q = A - mean_a A, and mean_a Q = V
    torch.testing.assert_close(q - q.mean(-1, keepdim=True), adv - adv.mean(-1, keepdim=True))
    torch.testing.assert_close(q.mean(-1, keepdim=True), v)
    assert QNetwork(4, 3, (8, 8))(obs).shape == (6, 3)


# --------------------------------------------------------------------------- PPO

# ratios inside and outside [1-ε, 1+ε] = [.8, 1.2], for positive and negative advantages
RATIO = torch.tensor([0.5, 1.1, 1.5, 0.5, 0.9, 1.5])
ADV = torch.tensor([1.0, 1.0, 1.0, -1.0, -2.0, -1.0])


def test_clipped_surrogate_by_hand():
    log_prob = RATIO.log().requires_grad_(True)
    loss, info = clipped_surrogate_loss(log_prob, torch.zeros(6), ADV, clip_coef=0.2)
    # ρÂ           .5, 1.1, 1.5, -.5, -1.8, -1.5
    # clip(ρ)Â     .8, 1.1, 1.2, -.8, -1.8, -1.2
    # min          .5, 1.1, 1.2, -.8, -1.8, -1.5   -> sum -1.3
    assert loss.item() == pytest.approx(1.3 / 6, abs=1e-6)
    assert info["loss_pi"].item() == pytest.approx(1.3 / 6, abs=1e-6)
    expected_kl = sum((r - 1) - math.log(r) for r in RATIO.tolist()) / 6
    assert info["approx_kl"].item() == pytest.approx(expected_kl, rel=1e-5)
    assert info["clip_fraction"].item() == pytest.approx(4 / 6)        # |ρ - 1| > .2 at rows 0, 2, 3, 5
    loss.backward()
    # d/dlogπ of min: ρÂ where the unclipped term is the min (or ρ is inside), 0 where the clipped one is
    torch.testing.assert_close(log_prob.grad, -torch.tensor([0.5, 1.1, 0.0, 0.0, -1.8, -1.5]) / 6)


def test_approx_kl_is_zero_at_ratio_one_and_positive_elsewhere():
    lp = torch.tensor([0.3, -1.0])
    _, same = clipped_surrogate_loss(lp, lp.clone(), torch.ones(2), 0.2)
    assert same["approx_kl"].item() == 0.0 and same["clip_fraction"].item() == 0.0
    _, moved = clipped_surrogate_loss(lp + 0.05, lp, torch.ones(2), 0.2)
    assert moved["approx_kl"].item() == pytest.approx(math.exp(0.05) - 1 - 0.05, rel=1e-4)


@pytest.mark.parametrize("clip, expected", [
    (None, (1 + 1 + 4) / 3),
    # clipped V: (.2, 2.7, .3) -> errors (3.24, .49, 2.89); max with (1, 1, 4) -> (3.24, 1, 4)
    (0.2, (3.24 + 1 + 4) / 3),
])
def test_value_loss_by_hand(clip, expected):
    value, target, old = torch.tensor([1.0, 3.0, 0.0]), torch.tensor([2.0, 2.0, 2.0]), torch.tensor([0.0, 2.5, 0.5])
    loss, info = value_loss(value, target, old, clip)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert info["loss_v"].item() == pytest.approx(expected, rel=1e-6)


def test_ppo_loss_combines_the_terms_with_normalized_advantages():
    cfg = PPOConfig(clip_coef=0.2, vf_coef=0.5, ent_coef=0.01, clip_value=None, normalize_advantage=True)
    log_prob, old = torch.tensor([math.log(1.1), 0.0]), torch.zeros(2)
    adv = torch.tensor([1.0, 3.0])            # mean 2, std (unbiased) √2 -> normalized (-1/√2, 1/√2)
    value, target = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 3.0])
    entropy = torch.tensor([1.0, 2.0])
    loss, info = ppo_loss(log_prob, old, adv, value, target, value.clone(), entropy, cfg)
    a = 1 / math.sqrt(2)
    # row 0: ρ = 1.1, Â = -a: min(-1.1a, -1.1a); row 1: ρ = 1, Â = a
    loss_pi = -(-1.1 * a + a) / 2
    loss_v = (1 + 4) / 2
    assert info["loss_pi"].item() == pytest.approx(loss_pi, rel=1e-5)
    assert info["loss_v"].item() == pytest.approx(loss_v)
    assert info["entropy"].item() == pytest.approx(1.5)
    assert loss.item() == pytest.approx(loss_pi + 0.5 * loss_v - 0.01 * 1.5, rel=1e-5)
    # normalized advantages: a positive affine change of Â leaves the loss as it is
    loss2, _ = ppo_loss(log_prob, old, 10 * adv - 7, value, target, value.clone(), entropy, cfg)
    assert loss2.item() == pytest.approx(loss.item(), rel=1e-5)
    # without normalization the raw advantages count: row 0: min(1.1, 1.1), row 1: 3
    cfg.normalize_advantage = False
    _, raw = ppo_loss(log_prob, old, adv, value, target, value.clone(), entropy, cfg)
    assert raw["loss_pi"].item() == pytest.approx(-(1.1 + 3.0) / 2, rel=1e-5)
