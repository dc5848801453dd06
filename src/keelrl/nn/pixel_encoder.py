"""Convolutional encoders and decoders of pixel observations.

    ConvEncoder   uint8-valued frames [B, C, H, W] -> features [B, F]: x / 255, then `layers`
                  3x3 convolutions of `filters` channels (the first with stride 2), ReLU, and a
                  linear layer, LayerNorm and tanh to F features (Yarats et al. 2019, SAC-AE; used
                  by CURL and DrQ at F = 50)
    ConvDecoder   features [B, F] -> frames [B, C, H, W] in pixel units 0..255 (the mirror of
                  ConvEncoder: a linear layer, then transposed convolutions)

Observations arrive as float32 holding the stored uint8 values (the replay buffers do not rescale):
the encoder scales them, so an agent acting on an environment's uint8 frames and learning from the
replay's sees the same numbers.
"""
from __future__ import annotations

import torch
from torch import nn

from keelrl.errors import KeelError


def conv_output_size(size: int, layers: int) -> int:
    """The side of the feature map after ConvEncoder's convolutions (3x3, no padding; the first stride 2)."""
    side = (size - 3) // 2 + 1 - 2 * (layers - 1)
    if side < 1:
        raise KeelError(f"{layers} convolutions (--encoder-layers) leave nothing of a {size}-pixel frame; use fewer "
                        f"layers or larger frames (--env-kwargs pixels N)")
    return side


class ConvEncoder(nn.Module):
    def __init__(self, in_channels: int, size: int = 64, feature_dim: int = 50, layers: int = 4,
                 filters: int = 32) -> None:
        super().__init__()
        convs: list[nn.Module] = [nn.Conv2d(in_channels, filters, 3, stride=2), nn.ReLU()]
        for _ in range(layers - 1):
            convs += [nn.Conv2d(filters, filters, 3, stride=1), nn.ReLU()]
        self.convs = nn.Sequential(*convs)
        self.side = conv_output_size(size, layers)
        self.flat_dim = filters * self.side ** 2
        self.head = nn.Sequential(nn.Linear(self.flat_dim, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())
        self.feature_dim, self.size, self.in_channels = feature_dim, size, in_channels

    def conv_features(self, obs: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] pixel values -> the flattened convolutional features [B, flat_dim]."""
        return self.convs(obs / 255.0).flatten(1)

    def forward(self, obs: torch.Tensor, detach_convs: bool = False) -> torch.Tensor:
        """[B, C, H, W] pixel values -> features [B, F]; `detach_convs`: no gradient into the convolutions
        (SAC-AE's actor, which shares the critic's convolutions without training them)."""
        h = self.conv_features(obs)
        return self.head(h.detach() if detach_convs else h)


class ConvDecoder(nn.Module):
    def __init__(self, out_channels: int, size: int = 64, feature_dim: int = 50, layers: int = 4,
                 filters: int = 32) -> None:
        super().__init__()
        self.side, self.filters = conv_output_size(size, layers), filters
        self.fc = nn.Linear(feature_dim, filters * self.side ** 2)
        deconvs: list[nn.Module] = []
        for _ in range(layers - 1):
            deconvs += [nn.ReLU(), nn.ConvTranspose2d(filters, filters, 3, stride=1)]
        # the last layer undoes the stride-2 convolution; output_padding restores an even side
        out_pad = size - ((self.side + 2 * (layers - 1) - 1) * 2 + 3)
        deconvs += [nn.ReLU(), nn.ConvTranspose2d(filters, out_channels, 3, stride=2, output_padding=out_pad)]
        self.deconvs = nn.Sequential(*deconvs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """[B, F] -> [B, C, H, W] in pixel units (0..255 where the reconstruction is right)."""
        h = self.fc(features).view(-1, self.filters, self.side, self.side)
        return 255.0 * (torch.sigmoid(self.deconvs(h)))


# --------------------------------------------------------------------------- SLAC's encoder and decoder
# Lee, Nagabandi, Abbeel & Levine 2020 (SLAC): five convolutions with leaky ReLU (slope 0.2) from a
# 64x64 frame to a 256-vector, and their mirror image back. The reference code's depths are
# base_depth x (1, 2, 4, 8, 8) with base_depth 32; its padding is "same" on the stride-2 layers and
# "valid" on the last one, so that 64 -> 32 -> 16 -> 8 -> 4 -> 1.

def slac_depths(size: int, base_depth: int) -> list[int]:
    """The output channels of SLACEncoder's stride-2 convolutions for a `size`-pixel frame: one per
    halving from `size` down to 4 (64: [32, 64, 128, 256]; 32: [32, 64, 128]; 16: [32, 64]; 8: [32])."""
    halvings = (size // 4).bit_length() - 1
    if size < 8 or size != 4 * 2 ** halvings or halvings > 4:
        raise KeelError(f"SLAC's encoder takes square frames of 8, 16, 32 or 64 pixels, got {size} "
                        f"(--env-kwargs pixels 64 sets the frame size)")
    return [base_depth * 2 ** i for i in range(halvings)]


class SLACEncoder(nn.Module):
    """Frames [N, C, size, size] holding pixel values 0..255 -> features [N, feature_dim].

    x / 255, then (size 64) conv 5x5 stride 2 -> 32, 3x3 s2 -> 64, 3x3 s2 -> 128, 3x3 s2 -> 256 (each
    with padding that halves the side), then conv 4x4 "valid" 4 -> 1 to `feature_dim` = 256; leaky
    ReLU (0.2) after every layer, the last included, as in the reference code. Smaller frames drop
    stride-2 layers from the end of that list (16x16: 5x5 s2 -> 32, 3x3 s2 -> 64, 4x4 valid -> 256),
    so that the last convolution always sees 4x4.
    """

    def __init__(self, in_channels: int, size: int = 64, feature_dim: int = 256, base_depth: int = 32) -> None:
        super().__init__()
        depths = slac_depths(size, base_depth)
        layers: list[nn.Module] = []
        last = in_channels
        for i, depth in enumerate(depths):
            kernel = 5 if i == 0 else 3
            layers += [nn.Conv2d(last, depth, kernel, stride=2, padding=kernel // 2), nn.LeakyReLU(0.2)]
            last = depth
        layers += [nn.Conv2d(last, feature_dim, 4), nn.LeakyReLU(0.2)]          # 4x4 -> 1x1 ("valid")
        self.convs = nn.Sequential(*layers)
        self.in_channels, self.size, self.feature_dim = in_channels, size, feature_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] pixel values 0..255 -> [N, feature_dim]."""
        return self.convs(obs / 255.0).flatten(1)


class SLACDecoder(nn.Module):
    """Latents [..., latent_dim] (SLAC: z = [z1, z2], 32 + 256) -> the mean image [..., C, size, size]
    of p(x | z) = N(mean, decoder_std² I), in the units the loss compares: pixel values / 255.

    The mirror of SLACEncoder: z as a 1x1 map, transposed conv 4x4 "valid" -> 256 at 4x4, then
    3x3 stride 2 -> 128 (8x8), -> 64 (16x16), -> 32 (32x32) and 5x5 stride 2 -> C (64x64); leaky ReLU
    (0.2) between layers and none on the mean. Smaller frames drop the same layers as the encoder.

    decoder_std is the fixed STANDARD DEVIATION of every pixel (in units of pixel / 255), not the
    variance. Default sqrt(0.1) ≈ 0.316, i.e. variance 0.1: the SLAC reference code's
    `decoder_stddev=np.sqrt(0.1)` on images converted to [0, 1]. It weighs the image term against the
    KL (a smaller std makes reconstruction matter more) and is a per-task setting:
    see docs/algorithms/slac.md.
    """

    def __init__(self, out_channels: int, size: int = 64, latent_dim: int = 32 + 256, base_depth: int = 32,
                 decoder_std: float = 0.1 ** 0.5) -> None:
        super().__init__()
        if not decoder_std > 0:
            raise ValueError(f"decoder_std is the pixel standard deviation and must be > 0, got {decoder_std}")
        depths = slac_depths(size, base_depth)[::-1]                       # 64: [256, 128, 64, 32]
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, depths[0], 4), nn.LeakyReLU(0.2)]   # 1 -> 4
        for i, depth in enumerate(depths):
            last_layer = i == len(depths) - 1
            out, kernel = (out_channels, 5) if last_layer else (depths[i + 1], 3)
            # stride 2 with padding k // 2 and output_padding 1 doubles the side exactly
            layers.append(nn.ConvTranspose2d(depth, out, kernel, stride=2, padding=kernel // 2, output_padding=1))
            if not last_layer:
                layers.append(nn.LeakyReLU(0.2))
        self.deconvs = nn.Sequential(*layers)
        self.out_channels, self.size, self.latent_dim, self.decoder_std = out_channels, size, latent_dim, decoder_std

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """[..., latent_dim] -> mean image [..., C, size, size] (pixel values / 255); the leading dims
        are flattened for the convolutions and restored, like SLACEncoder's callers do."""
        lead = latent.shape[:-1]
        out = self.deconvs(latent.reshape(-1, self.latent_dim, 1, 1))       # [N, C, size, size]
        return out.view(*lead, self.out_channels, self.size, self.size)
