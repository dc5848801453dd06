"""The vectorized ensemble equals a Python loop of separate critics, values and gradients."""
import torch
from torch import nn

from keelrl.nn.ensemble import EnsembleCritic


def _loop_critics(ens: EnsembleCritic) -> list[nn.Sequential]:
    """Separate nn.Linear critics holding copies of each member's weights."""
    critics = []
    for e in range(ens.ensemble_size):
        layers = []
        for i, layer in enumerate(ens.net.layers):
            lin = nn.Linear(layer.in_features, layer.out_features).double()
            with torch.no_grad():
                lin.weight.copy_(layer.weight[e].T)
                lin.bias.copy_(layer.bias[e, 0])
            layers += [lin] + ([nn.ReLU()] if i < len(ens.net.layers) - 1 else [])
        critics.append(nn.Sequential(*layers))
    return critics


def test_ensemble_equals_loop_of_critics():
    torch.manual_seed(0)
    ens = EnsembleCritic(5, obs_dim=4, act_dim=2, hidden=(8, 8)).double()
    loop = _loop_critics(ens)
    obs, act = torch.randn(7, 4, dtype=torch.float64), torch.randn(7, 2, dtype=torch.float64)
    q = ens(obs, act)
    assert q.shape == (5, 7)
    ref = torch.stack([c(torch.cat([obs, act], -1)).squeeze(-1) for c in loop])
    torch.testing.assert_close(q, ref)

    # gradients: member e's weights get exactly the gradient of critic e
    w = torch.randn(5, 7, dtype=torch.float64)
    (q * w).sum().backward()
    (ref * w).sum().backward()
    for e, c in enumerate(loop):
        torch.testing.assert_close(ens.net.layers[0].weight.grad[e], c[0].weight.grad.T)
        torch.testing.assert_close(ens.net.layers[-1].bias.grad[e, 0], c[-1].bias.grad)


def test_shared_and_per_member_inputs_agree():
    torch.manual_seed(1)
    ens = EnsembleCritic(3, 4, 2, (8,))
    obs, act = torch.randn(6, 4), torch.randn(6, 2)
    x = torch.cat([obs, act], -1)
    torch.testing.assert_close(ens.net(x), ens.net(x.expand(3, 6, 6)))


def test_members_are_initialised_independently():
    ens = EnsembleCritic(2, 3, 1, (16,))
    w = ens.net.layers[0].weight
    assert not torch.equal(w[0], w[1])


def test_member_equals_its_slice_of_the_ensemble_and_trains_only_itself():
    torch.manual_seed(0)
    critic = EnsembleCritic(3, 5, 2, (16, 16))
    obs, act = torch.randn(7, 5), torch.randn(7, 2)
    for i in range(3):
        torch.testing.assert_close(critic.member(i, obs, act), critic(obs, act)[i])
    critic.member(1, obs, act).sum().backward()
    for layer in critic.net.layers:
        assert layer.weight.grad[1].abs().sum() > 0
        assert layer.weight.grad[0].abs().sum() == 0 and layer.weight.grad[2].abs().sum() == 0
