"""P-DQN: its losses against hand computations, the hybrid probes through the real loop, a Platform
smoke run with success rates, and resume equality. MP-DQN's multi-pass network: tests/nn/test_parameterized.py
and tests/algos/test_mpdqn.py."""
import numpy as np
import pytest
import torch

from keelrl.algos.pdqn import pdqn_param_loss, pdqn_q_loss
from keelrl.functional import invert_gradients
from keelrl.nn.parameterized import ParamQNetwork
from keelrl.types import Batch
from tests.algos import probes as P

CFG = dict(q_hidden_sizes=(32,), param_hidden_sizes=(32,), batch_size=64, learning_starts=100, buffer_size=5000,
           exploration_steps=300, tau_q=0.1, tau_param=0.05, q_lr=3e-3, param_lr=1e-3)
STEPS = 600
ACTION_STEPS = 1000
"""The parameter network settles more slowly than Q; single-pass P-DQN the slowest, since each Q_k's
gradient also moves the other actions' parameters (what MP-DQN removes)."""


def _batch(b=4, o=3, p=2, k=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(b, o, generator=g), torch.randint(0, k, (b,), generator=g), torch.randn(b, generator=g),
                 torch.randn(b, o, generator=g), torch.tensor([0.0, 1.0, 0.0, 0.0])[:b], None,
                 torch.rand(b, p, generator=g) * 2 - 1)


def test_q_loss_is_the_squared_error_to_the_max_over_actions_target():
    torch.manual_seed(0)
    q, q_t = ParamQNetwork(3, 2, 2, (8,)), ParamQNetwork(3, 2, 2, (8,))
    batch, next_params = _batch(), torch.rand(4, 2)
    loss, info = pdqn_q_loss(q, q_t, next_params, batch, 0.9)
    with torch.no_grad():
        y = [float(batch.reward[i] + 0.9 * (1 - batch.terminated[i]) * q_t(batch.next_obs[i:i + 1], next_params[i:i + 1]).max())
             for i in range(4)]
        q_sa = [float(q(batch.obs[i:i + 1], batch.params[i:i + 1])[0, batch.action[i]]) for i in range(4)]
    assert float(loss) == pytest.approx(np.mean([0.5 * (a - b) ** 2 for a, b in zip(q_sa, y)]), rel=1e-5)
    assert float(info["q_mean"]) == pytest.approx(np.mean(q_sa), rel=1e-5)


def test_inverting_gradients_by_hand():
    grad = torch.tensor([[2.0, -2.0, 2.0, -2.0]])
    value = torch.tensor([[0.5, 0.5, -1.0, 1.0]])
    # increasing: scaled by (1 - p)/2; decreasing: by (p + 1)/2
    assert invert_gradients(grad, value).tolist() == [[0.5, -1.5, 2.0, -2.0]]
    past = invert_gradients(torch.tensor([[1.0, -1.0]]), torch.tensor([[1.5, -1.5]]))
    assert past.tolist() == [[-0.25, 0.25]]          # beyond a bound the step points back inside


def test_parameter_loss_gradient_is_the_inverted_gradient_of_the_summed_q():
    torch.manual_seed(1)
    q = ParamQNetwork(3, 2, 2, (8,)).requires_grad_(False)
    obs = torch.randn(5, 3)
    params = (torch.rand(5, 2) * 2 - 1).requires_grad_(True)
    loss, _ = pdqn_param_loss(q, obs, params, inverting=True)
    loss.backward()
    x = params.detach().clone().requires_grad_(True)
    q(obs, x).sum().backward()
    expected = -invert_gradients(x.grad, x.detach()) / 5
    assert torch.allclose(params.grad, expected, atol=1e-6)
    plain = params.detach().clone().requires_grad_(True)
    loss, _ = pdqn_param_loss(q, obs, plain, inverting=False)
    loss.backward()
    assert torch.allclose(plain.grad, -x.grad / 5, atol=1e-6)


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, tmp_path):
    P.check_hybrid_values(P.run_online("pdqn", probe, CFG, STEPS, tmp_path, hybrid=True), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    agent = P.run_online("pdqn", probe, CFG, ACTION_STEPS, tmp_path, hybrid=True)
    P.check_hybrid_actions(agent, probe)
    P.check_hybrid_values(agent, probe, tol=0.25)


def test_resumed_run_equals_uninterrupted(tmp_path):
    from keelrl.algos.pdqn import PDQNConfig
    from tests.algos.resume import assert_online_resume_equal
    assert_online_resume_equal("pdqn", PDQNConfig(**{**CFG, "learning_starts": 60}), tmp_path, "keel/Platform-v0", 2, 300, 170)
