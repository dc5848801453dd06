"""optimizer_step: zero, backward, clip to the given norm, step."""
import torch

from keelrl.optim import optimizer_step


def test_step_clips_the_gradient_norm_only_when_asked():
    for clip, expected in ((0.0, 10.0), (1.0, 1.0)):
        w = torch.nn.Parameter(torch.zeros(2))
        opt = torch.optim.SGD([w], lr=1.0)
        w.grad = torch.full((2,), 99.0)                      # a stale gradient is zeroed first
        optimizer_step(opt, (torch.tensor([6.0, 8.0]) * w).sum(), [w], clip)   # gradient (6, 8), norm 10
        assert torch.allclose(w.detach().norm(), torch.tensor(expected))
