"""DQN on the probe environments (tests/algos/probes.py): every probe in its discrete-action version,
through the real loop, its learned Q-values and greedy actions against the known answers.
Below, its pure functions against hand-computed references and its resume equality.
"""
import pytest
import torch

from keelrl.algos.dqn import linear_epsilon, q_regression_loss, q_target
from keelrl.nn.qnets import QNetwork

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), lr=3e-3, batch_size=64, learning_starts=50, updates_per_step=1.0, update_every=1,
           target_update_period=10, exploration_steps=200, eps_end=0.05, buffer_size=5000)
"""Small network, updates after every step, a hard target copy every 10 updates."""
STEPS = 400


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, tmp_path):
    P.check_values(P.run_online("dqn", probe, CFG, STEPS, tmp_path, discrete=True), probe, discrete=True)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    agent = P.run_online("dqn", probe, CFG, STEPS, tmp_path, discrete=True)
    P.check_actions(agent, probe, discrete=True)
    P.check_values(agent, probe, discrete=True)   # ε-greedy explores both actions: both values are learned


def test_bootstraps_from_the_target_network(tmp_path):
    """A target network never copied: Q(0, a) learns γ · max_a' Q̄(1, a') of the initial target, not γ · 1."""
    agent = P.run_online("dqn", "ProbeTwoStep", {**CFG, "target_update_period": 10 ** 9}, STEPS, tmp_path, discrete=True)
    with torch.no_grad():
        target = float(agent.q_target(torch.ones(1, 1)).max(-1).values[0])
    P.check_bootstrap(agent, target, discrete=True)


# --------------------------------------------------------------------------- pure functions by hand

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



# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tmp_path):
    from keelrl.algos import DQNConfig
    from tests.algos.resume import assert_online_resume_equal
    assert_online_resume_equal("dqn", DQNConfig(hidden_sizes=(16, 16), batch_size=32, learning_starts=100, buffer_size=5000, n_step=3,
                    double_q=True, dueling=True, exploration_steps=300, target_update_period=10), tmp_path, "CartPole-v1", 2, 600, 330)
