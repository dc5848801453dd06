"""S independent copies of a network in one module: every parameter gets a leading seed dimension,
and a forward pass is one batched matmul per layer for all S seeds, shape [S, B, ...].

This is how `keel train sac --seeds 0-4` trains several agents in one process. The copies never
mix: seed s's output and gradient depend only on seed s's parameters and inputs. Each stacked
module is made from S ordinary modules (`from_modules`) and can write seed s back into an ordinary
module (`copy_to`), so every seed's checkpoint is a plain single-seed one.

The layouts are chosen so that a seed's slice computes exactly what the ordinary module computes:
linear weights keep nn.Linear's [out, in] layout and multiply through a transposed view
(tests/nn/test_seed_stack.py checks the bitwise equality).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from keelrl.nn.distributions import TanhNormal
from keelrl.nn.ensemble import EnsembleCritic


class _StackedLinear(torch.autograd.Function):
    """y = x W^T + b for S seeds at once: x [S, B, in], W [S, out, in], b [S, 1, out].

    The backward computes each product in nn.Linear's own orientation (∂W = gᵀx, ∂x = gW,
    ∂b = Σ_B g), so a seed's gradients are bitwise those of the ordinary layer; autograd's
    default for the transposed view would compute ∂W as (xᵀg)ᵀ, which can round differently.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias, x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None
        grad_w = torch.bmm(grad.transpose(1, 2), x) if ctx.needs_input_grad[1] else None
        grad_b = grad.sum(1, keepdim=True) if ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


def _linears(module: nn.Module) -> list[nn.Linear]:
    """The nn.Linear layers of an MLP-shaped module, in forward order (registration order)."""
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


class StackedMLP(nn.Module):
    """S copies of an MLP of nn.Linear layers with ReLU between them: x [S, B, in] -> [S, B, out].

    weight[j] is [S, out, in] (nn.Linear's layout), bias[j] is [S, 1, out].
    """

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        super().__init__()
        per_seed = [_linears(m) for m in modules]
        self.num_seeds = len(per_seed)
        self.weight = nn.ParameterList(nn.Parameter(torch.stack([ls[j].weight.detach() for ls in per_seed]).clone())
                                       for j in range(len(per_seed[0])))
        self.bias = nn.ParameterList(nn.Parameter(torch.stack([ls[j].bias.detach() for ls in per_seed]).unsqueeze(1).clone())
                                     for j in range(len(per_seed[0])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.weight) - 1
        for j, (w, b) in enumerate(zip(self.weight, self.bias)):
            x = _StackedLinear.apply(x, w, b)
            if j < last:
                x = torch.relu(x)
        return x

    def forward_seed(self, s: int, x: torch.Tensor) -> torch.Tensor:
        """Seed s alone: x [B, in] -> [B, out] (evaluation)."""
        last = len(self.weight) - 1
        for j, (w, b) in enumerate(zip(self.weight, self.bias)):
            x = torch.nn.functional.linear(x, w[s], b[s, 0])
            if j < last:
                x = torch.relu(x)
        return x

    @torch.no_grad()
    def copy_to(self, s: int, module: nn.Module) -> None:
        for lin, w, b in zip(_linears(module), self.weight, self.bias):
            lin.weight.copy_(w[s])
            lin.bias.copy_(b[s, 0])

    @torch.no_grad()
    def copy_from(self, s: int, module: nn.Module) -> None:
        for lin, w, b in zip(_linears(module), self.weight, self.bias):
            w[s].copy_(lin.weight)
            b[s, 0].copy_(lin.bias)


class StackedTanhGaussianActor(nn.Module):
    """S copies of nn.actors.TanhGaussianActor: obs [S, B, O] -> TanhNormal over [S, B, A]."""

    def __init__(self, actors: Sequence[nn.Module]) -> None:
        super().__init__()
        self.net = StackedMLP(actors)
        self.log_std_min, self.log_std_max = actors[0].log_std_min, actors[0].log_std_max

    def _dist(self, out: torch.Tensor) -> TanhNormal:
        mu, log_std = out.chunk(2, dim=-1)
        return TanhNormal(mu, log_std.clamp(self.log_std_min, self.log_std_max))

    def forward(self, obs: torch.Tensor) -> TanhNormal:
        return self._dist(self.net(obs))

    def forward_seed(self, s: int, obs: torch.Tensor) -> TanhNormal:
        return self._dist(self.net.forward_seed(s, obs))


class StackedEnsembleCritic(nn.Module):
    """S copies of nn.ensemble.EnsembleCritic (E members each): obs [S, B, O], action [S, B, A] -> Q [S, E, B].

    weight[j] is [S, E, in, out], bias[j] is [S, E, 1, out] (EnsembleLinear's layout per seed).
    Each layer is one baddbmm over S·E members, each seed's input broadcast to its E members as
    EnsembleLinear does for a shared [B, in] input.
    """

    def __init__(self, critics: Sequence[EnsembleCritic]) -> None:
        super().__init__()
        layers = [c.net.layers for c in critics]
        self.num_seeds, self.ensemble_size = len(critics), critics[0].ensemble_size
        self.weight = nn.ParameterList(nn.Parameter(torch.stack([ls[j].weight.detach() for ls in layers]).clone())
                                       for j in range(len(layers[0])))
        self.bias = nn.ParameterList(nn.Parameter(torch.stack([ls[j].bias.detach() for ls in layers]).clone())
                                     for j in range(len(layers[0])))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        s, e = self.num_seeds, self.ensemble_size
        x = torch.cat([obs, action], dim=-1)                                   # [S, B, in]
        b = x.shape[1]
        x = x.unsqueeze(1).expand(s, e, b, x.shape[-1]).reshape(s * e, b, -1)  # each seed's input to its E members
        last = len(self.weight) - 1
        for j, (w, bias) in enumerate(zip(self.weight, self.bias)):            # [S*E, B, in] x [S*E, in, out]
            x = torch.baddbmm(bias.reshape(s * e, 1, -1), x, w.reshape(s * e, w.shape[2], w.shape[3]))
            if j < last:
                x = torch.relu(x)
        return x.view(s, e, b)

    @torch.no_grad()
    def copy_to(self, s: int, critic: EnsembleCritic) -> None:
        for layer, w, b in zip(critic.net.layers, self.weight, self.bias):
            layer.weight.copy_(w[s])
            layer.bias.copy_(b[s])

    @torch.no_grad()
    def copy_from(self, s: int, critic: EnsembleCritic) -> None:
        for layer, w, b in zip(critic.net.layers, self.weight, self.bias):
            w[s].copy_(layer.weight)
            b[s].copy_(layer.bias)
