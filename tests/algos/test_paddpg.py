"""PA-DDPG: the flat form of actions it did not emit, the actor's inverted gradient, the hybrid
probes through the real loop, resume equality. Its critic loss is TD3's (tests/algos/test_td3.py)."""
import numpy as np
import pytest
import torch

from keelrl.algos.paddpg import flat_action
from keelrl.functional import invert_gradients, inverted_gradient_loss
from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, buffer_size=5000, learning_starts=100, exploration_steps=300,
           actor_lr=1e-3, critic_lr=3e-3, tau=0.05)
STEPS = 1500
"""The actor's linear outputs, bounded by inverting gradients, settle more slowly than a tanh actor's."""


def test_flat_form_of_a_random_action():
    flat = flat_action(np.array([2, 0]), np.array([[0.1, 0.2], [0.3, 0.4]]), 3)
    assert np.allclose(flat, [[-1, -1, 1, 0.1, 0.2], [1, -1, -1, 0.3, 0.4]])


def test_actor_gradient_is_the_inverted_critic_gradient():
    torch.manual_seed(0)
    w = torch.randn(4)
    a = (torch.rand(6, 4) * 2.4 - 1.2).requires_grad_(True)     # some outputs past the bounds
    loss, q = inverted_gradient_loss(lambda x: (x * w).sum(1) - x.pow(2).sum(1), a)
    loss.backward()
    x = a.detach().clone().requires_grad_(True)
    ((x * w).sum(1) - x.pow(2).sum(1)).sum().backward()
    assert torch.allclose(a.grad, -invert_gradients(x.grad, x.detach()) / 6, atol=1e-6)
    assert q.shape == (6,) and not q.requires_grad


@pytest.mark.parametrize("probe", ["ProbeConstant", "ProbeTwoStep"])
def test_probe_values(probe, tmp_path):
    P.check_hybrid_values(P.run_online("paddpg", probe, CFG, 500, tmp_path, hybrid=True), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    P.check_hybrid_actions(P.run_online("paddpg", probe, CFG, STEPS, tmp_path, hybrid=True), probe)


def test_resumed_run_equals_uninterrupted(tmp_path):
    from keelrl.algos.paddpg import PADDPGConfig
    from tests.algos.resume import assert_online_resume_equal
    assert_online_resume_equal("paddpg", PADDPGConfig(**{**CFG, "learning_starts": 60}), tmp_path, "keel/Platform-v0", 2, 300, 170)
