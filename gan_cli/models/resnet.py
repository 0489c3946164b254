"""The CIFAR ResNet of the WGAN-GP and SN-GAN papers (Gulrajani et al. 2017, Appendix;
Miyato et al. 2018, Appendix B), for 32x32 images, grown by one block each per doubling
of the side up to 256x256.

Generator: z -> linear -> 4x4 x ch -> three up-sampling residual blocks -> BN, ReLU,
3x3 conv, tanh. Discriminator: four residual blocks (down, down, same, same), ReLU,
global sum pooling, linear. 128 channels by default, at every resolution up to 64x64
(the papers' CIFAR and STL-10 networks); above it the width halves as the side doubles
(g_channels / 2 at 128x128, / 4 at 256x256), as in the 128- and 256-pixel ResNets of
SN-GAN and BigGAN, whose widest layers are the coarse ones, so that a large image costs
about as much per pixel as a small one.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from gan_cli.models.common import (
    DEPTH,
    NORM,
    WIDTH,
    ArchError,
    extra_layers,
    image_side,
    norm_layer,
    spread,
)
from gan_cli.models.conditional import (
    CONDITIONAL,
    batch_norm,
    class_embedding,
    conditioned,
    embed,
    head,
    run_layers,
)

SIDES = (32, 64, 128, 256)
FITS = "square images of 32 (the papers'), 64, 128 or 256 pixels"
FULL_WIDTH_UP_TO = 64  # the side up to which every block is `channels` wide


def width_at(side: int, channels: int) -> int:
    """The width of the blocks working at side x side: `channels` up to 64x64, halved for
    each doubling above it."""
    return max(1, channels * FULL_WIDTH_UP_TO // max(side, FULL_WIDTH_UP_TO))


def fits(shape: tuple[int, ...]) -> bool:
    return image_side(shape, SIDES) is not None


class UpBlock(nn.Module):
    """BN-ReLU-upsample-conv3x3-BN-ReLU-conv3x3, plus an upsampled 1x1-conv shortcut;
    conditional batch norm with n_classes > 0. `up=False`: the same block keeping the
    shape, with the identity as its shortcut (the extra blocks of a deeper network).
    `c_out` (default: `channels`) is the width it hands on."""

    def __init__(
        self, channels: int, n_classes: int = 0, up: bool = True, c_out: int | None = None
    ) -> None:
        super().__init__()
        c_out = c_out or channels
        self.residual = nn.Sequential(
            batch_norm(channels, n_classes),
            nn.ReLU(),
            *([nn.Upsample(scale_factor=2)] if up else []),
            nn.Conv2d(channels, c_out, 3, 1, 1),
            batch_norm(c_out, n_classes),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1),
        )
        self.shortcut = (
            nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(channels, c_out, 1))
            if up
            else nn.Identity()
        )

    def forward(self, x: Tensor, e: Tensor | None = None) -> Tensor:
        """x (B, C, H, W) and, when conditional, class embeddings e (B, E)."""
        return run_layers(self.residual, x, e) + self.shortcut(x)


class DownBlock(nn.Module):
    """(norm)-ReLU-conv3x3-(norm)-ReLU-conv3x3(-avgpool), plus a shortcut (1x1 conv and
    average pooling where the shape changes). The first block of the discriminator
    (`first`) takes no activation before its first convolution, as the image is its input."""

    def __init__(self, c_in: int, c_out: int, down: bool, norm: str, first: bool = False) -> None:
        super().__init__()
        pre = [] if first else [norm_layer(norm, c_in), nn.ReLU()]
        self.residual = nn.Sequential(
            *pre,
            nn.Conv2d(c_in, c_out, 3, 1, 1),
            norm_layer(norm, c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1),
            *([nn.AvgPool2d(2)] if down else []),
        )
        self.shortcut = (
            nn.Sequential(*([nn.AvgPool2d(2)] if down else []), nn.Conv2d(c_in, c_out, 1))
            if down or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.residual(x) + self.shortcut(x)


def _depth_blocks(depth: int | None, base: int, stages: int, what: str) -> list[int]:
    """Shape-keeping residual blocks (two convolutions each) a stage, for a network of
    `depth` weight layers on its main path whose base model has `base`: spread over the
    stages, the later ones first; depth - base must be even."""
    extra = extra_layers(depth, base, "depth", what)
    if extra % 2:
        raise ArchError("depth", f"{what} has {base} + 2k layers (two a residual block)")
    return spread(extra // 2, stages)


class Generator(nn.Module):
    """z (B, z_dim) and, with n_classes > 0, labels y (B,) (conditional batch norm) ->
    images (B, C, S, S) in [-1, 1].

    `depth`: the weight layers on the main path, the linear input, two convolutions a
    residual block and the output convolution (8 at 32x32); the blocks beyond the base
    model's keep the shape, spread over the resolutions 8x8 .. S, the higher ones first.
    """

    def __init__(
        self,
        out_shape: tuple[int, ...],
        z_dim: WIDTH = 128,
        g_channels: WIDTH = 128,
        depth: DEPTH = None,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        self.z_dim, self.channels, self.n_classes = z_dim, g_channels, n_classes
        self.embed = class_embedding(n_classes)
        side = image_side(out_shape, SIDES)
        n_up = int(math.log2(side // 4))
        more = _depth_blocks(depth, 2 * n_up + 2, n_up, f"a resnet generator of {side}x{side}")
        self.linear = nn.Linear(z_dim, 4 * 4 * g_channels)
        blocks, width = [], g_channels
        for i, n_same in enumerate(more):
            c_out = width_at(8 * 2**i, g_channels)  # this block's output side: 8 * 2**i
            blocks.append(UpBlock(width, n_classes, c_out=c_out))
            width = c_out
            blocks += [UpBlock(width, n_classes, up=False) for _ in range(n_same)]
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Sequential(
            batch_norm(width, n_classes),
            nn.ReLU(),
            nn.Conv2d(width, out_shape[0], 3, 1, 1),
            nn.Tanh(),
        )

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        e = embed(self.embed, y)
        x = self.linear(z).view(z.shape[0], self.channels, 4, 4)
        for block in self.blocks:
            x = block(x, e)
        return run_layers(self.out, x, e)


class Discriminator(nn.Module):
    """images (B, C, S, S) (and labels y (B,) when conditional) -> raw output (B,). No
    normalization by default, as in both papers' critics; `norm` is what the loss
    allows. A class head (gan_cli.models.conditional) reads the pooled features, as in
    Miyato & Koyama's ResNet; `logits=True` asks an acgan one for its class logits.

    `depth`: the weight layers on the main path, two convolutions a residual block and
    the linear output (9 at 32x32); the blocks beyond the base model's keep the shape,
    spread over the resolutions S/2 .. 8x8, the lower ones first."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        d_channels: WIDTH = 128,
        norm: NORM = "none",
        depth: DEPTH = None,
        conditional: CONDITIONAL = "none",
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        side = image_side(in_shape, SIDES)
        n_down = int(math.log2(side // 8))  # down to 8x8
        base = 2 * (n_down + 2) + 1
        more = _depth_blocks(depth, base, n_down, f"a resnet critic of {side}x{side}")
        ch = d_channels
        blocks, width = [], in_shape[0]
        for i, n_same in enumerate(more):
            first = i == 0
            c_out = width_at(side // 2**i, ch)  # this block's input side: side / 2**i
            blocks.append(DownBlock(width, c_out, True, norm, first=first))
            width = c_out
            blocks += [DownBlock(width, width, down=False, norm=norm) for _ in range(n_same)]
        blocks += [DownBlock(ch, ch, down=False, norm=norm) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(ch, 1)
        self.n_features = ch
        self.class_head = head(conditional, ch, n_classes)

    def features(self, x: Tensor) -> Tensor:
        """phi(x), the globally sum-pooled features: (B, n_features)."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def forward(self, x: Tensor, y: Tensor | None = None, logits: bool = False):
        h = self.features(x)
        return conditioned(self.linear(h).flatten(), h, y, self.class_head, logits)
