"""ParamQNetwork: the single pass lets Q_k see every action's parameters; the multi-pass form (MP-DQN)
gives Q_k from a pass that sees only x_k, equal to K separate forward passes."""
import torch

from keelrl.nn.parameterized import ParamQNetwork

SLICES = ((0, 1), (1, 3), (3, 4))


def test_multi_pass_equals_one_pass_per_action_with_the_others_zeroed():
    torch.manual_seed(0)
    net = ParamQNetwork(5, 4, 3, (16, 16), SLICES)
    obs, params = torch.randn(6, 5), torch.randn(6, 4)
    q = net(obs, params)
    assert q.shape == (6, 3)
    for k, (a, b) in enumerate(SLICES):
        own = torch.zeros_like(params)
        own[:, a:b] = params[:, a:b]
        assert torch.allclose(q[:, k], net.net(torch.cat([obs, own], 1))[:, k], atol=1e-6)


def test_q_k_depends_on_other_actions_parameters_only_in_a_single_pass():
    torch.manual_seed(0)
    obs, params = torch.randn(4, 5), torch.randn(4, 4)
    changed = params.clone()
    changed[:, 1:] += 1.0                      # every parameter but action 0's
    multi, single = ParamQNetwork(5, 4, 3, (16,), SLICES), ParamQNetwork(5, 4, 3, (16,))
    assert torch.equal(multi(obs, params)[:, 0], multi(obs, changed)[:, 0])
    assert not torch.allclose(single(obs, params)[:, 0], single(obs, changed)[:, 0])
