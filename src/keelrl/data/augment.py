"""Image augmentation as pure functions on the training device, for RL from pixels.

    random_crop   each image of [B, C, H, W] cut to [size, size] at its own uniformly drawn corner
                  (CURL, Srinivas et al. 2020: 84 from 100-pixel frames)
    random_shift  pad each side by `pad` pixels repeating the border, then crop back to [H, W]:
                  a shift of up to ±pad pixels (DrQ, Kostrikov et al. 2020: pad 4 on 84 pixels)

The corners come from `generator`, so an augmentation is reproducible and checkpoints keep it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """images [B, C, H, W] -> [B, C, size, size], image b cut at its own corner (y_b, x_b)."""
    assert images.dim() == 4, f"images must be [B, C, H, W], got {tuple(images.shape)}"
    b, _, h, w = images.shape
    if not (0 < size <= min(h, w)):
        raise ValueError(f"a crop of {size} pixels does not fit images of {h}x{w}")
    dev = images.device
    y = torch.randint(0, h - size + 1, (b,), device=dev, generator=generator)     # [B]
    x = torch.randint(0, w - size + 1, (b,), device=dev, generator=generator)     # [B]
    offsets = torch.arange(size, device=dev)
    rows = (y[:, None] + offsets)[:, :, None]                                      # [B, size, 1]
    cols = (x[:, None] + offsets)[:, None, :]                                      # [B, 1, size]
    batch = torch.arange(b, device=dev)[:, None, None]                             # [B, 1, 1]
    return images.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)       # [B, C, size, size]


def random_shift(images: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """images [B, C, H, W] (H = W) -> the same shape, each shifted by up to ±pad pixels, the border
    repeated into the uncovered edge."""
    assert images.dim() == 4, f"images must be [B, C, H, W], got {tuple(images.shape)}"
    h, w = images.shape[-2:]
    if h != w:
        raise ValueError(f"random_shift takes square images, got {h}x{w}")
    padded = F.pad(images.float() if not images.is_floating_point() else images, (pad, pad, pad, pad), mode="replicate")
    return random_crop(padded, h, generator)


def center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """The middle [size, size] of images [B, C, H, W] (what an agent trained on random crops sees when acting)."""
    h, w = images.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return images[..., top:top + size, left:left + size]
