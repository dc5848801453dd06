"""The vectorized ensemble equals a Python loop of separate critics, values and gradients."""
import torch
from torch import nn

from keelrl.nn.ensemble import EnsembleCritic
import math
from keelrl.nn.ensemble import EnsembleMLP, edac_init_, orthogonal_init_


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


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


def test_orthogonal_init_each_member_orthogonal_with_its_gain():
    torch.manual_seed(0)
    net = EnsembleMLP(3, 5, (8, 4), 1)     # layers 5->8 (tall), 8->4 (wide), 4->1 (output)
    orthogonal_init_(net, hidden_gain=math.sqrt(2), last_gain=1e-2)
    gains = [math.sqrt(2), math.sqrt(2), 1e-2]
    for layer, g in zip(net.layers, gains):
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
        for i in range(3):
            w = layer.weight[i].detach().T.double()                 # nn.Linear's [out, in] view
            out_dim, in_dim = w.shape
            if out_dim >= in_dim:
                gram, k = w.T @ w, in_dim                            # orthonormal columns
            else:
                gram, k = w @ w.T, out_dim                           # orthonormal rows
            torch.testing.assert_close(gram, g * g * torch.eye(k, dtype=torch.float64), atol=1e-6, rtol=1e-5)
        assert not torch.equal(layer.weight[0], layer.weight[1])     # members drawn independently


def test_edac_init_biases_and_last_layer():
    torch.manual_seed(0)
    net = EnsembleMLP(4, 5, (8, 8), 1)
    hidden_w = [layer.weight.detach().clone() for layer in net.layers[:-1]]
    edac_init_(net)
    for layer, w in zip(net.layers[:-1], hidden_w):
        assert torch.equal(layer.bias, torch.full_like(layer.bias, 0.1))
        assert torch.equal(layer.weight, w)                          # hidden weights keep the default
    last = net.layers[-1]
    for p in (last.weight, last.bias):
        assert p.abs().max() <= 3e-3 and p.abs().max() > 0
        assert p.unique().numel() == p.numel()                       # drawn, not filled

