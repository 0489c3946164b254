"""DCGAN (Radford et al. 2015) for square images of 32 to 256 pixels.

The paper's guidelines: strided convolutions in the discriminator and fractionally
strided (transposed) convolutions in the generator, no pooling and no fully connected
hidden layers; batch norm in the generator and in the discriminator (except its input
layer); ReLU in the generator with a tanh output; LeakyReLU(0.2) in the discriminator.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from gan_cli.models.common import (
    ACT,
    DEPTH,
    NORM,
    WIDTH,
    ArchError,
    activation,
    extra_layers,
    image_side,
    norm_layer,
    spread,
    widen,
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
FITS = "square images of 32, 64, 128 or 256 pixels"
# no hidden layer is wider than this many times g_channels (d_channels): the width stops
# doubling towards 4x4 there, so a 256-pixel model is as wide as a 64-pixel one
WIDEST = 8


def fits(shape: tuple[int, ...]) -> bool:
    return image_side(shape, SIDES) is not None


class Generator(nn.Module):
    """z (B, z_dim) and, with n_classes > 0, labels y (B,) -> images (B, C, S, S) in
    [-1, 1], S = 32, 64, 128 or 256.

    z is read as a 1x1 feature map; each transposed convolution doubles the side,
    from 4x4 up, while the width halves down to g_channels, starting at no more than
    WIDEST x g_channels (`constant_width`: every hidden layer g_channels wide). A
    class-conditional generator has conditional batch norm (gan_cli.models.conditional),
    so it needs norm=batch.

    The architecture study's knobs: `act` the hidden nonlinearity, `norm` the hidden
    layers' normalization, `depth` the number of (transposed) convolutions: the base
    model has one per resolution from 1x1 to S (4 at 32x32, 5 at 64x64); the layers
    beyond them are 3x3 shape-keeping convolutions (with the norm and nonlinearity),
    spread as evenly as possible over the hidden resolutions 4x4 .. S/2, the higher
    resolutions taking the remainder (gan_cli.models.common.spread).
    """

    def __init__(
        self,
        out_shape: tuple[int, ...],
        z_dim: WIDTH = 100,
        g_channels: WIDTH = 64,
        act: ACT = "relu",
        norm: NORM = "batch",
        depth: DEPTH = None,
        constant_width: bool = False,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        if n_classes and norm != "batch":
            raise ArchError("norm", "a conditional generator reads its class in its batch norm")
        self.z_dim, self.n_classes = z_dim, n_classes
        self.embed = class_embedding(n_classes)
        side = image_side(out_shape, SIDES)
        n_up = int(math.log2(side // 4))  # transposed convolutions from 4x4 to S/2
        extra = extra_layers(depth, n_up + 1, "depth", f"a dcgan generator of {side}x{side}")
        k = widen(act)

        def hidden(c_in: int, c_out: int, conv: nn.Module) -> list[nn.Module]:
            normed = (
                batch_norm(c_out * k, n_classes) if norm == "batch" else norm_layer(norm, c_out * k)
            )
            return [conv, normed, activation(act)]

        def same(width: int) -> list[nn.Module]:
            conv = nn.Conv2d(width, width * k, 3, 1, 1, bias=norm == "none")
            return hidden(width, width, conv)

        def width_at(i: int) -> int:  # the i-th hidden resolution's width (4x4: i = 0)
            if constant_width:
                return g_channels
            return g_channels * min(2 ** (n_up - 1 - i), WIDEST)

        bias = norm == "none"
        width = width_at(0)
        layers = hidden(z_dim, width, nn.ConvTranspose2d(z_dim, width * k, 4, 1, 0, bias=bias))
        for i, n_same in enumerate(spread(extra, n_up)):
            for _ in range(n_same):
                layers += same(width)
            if i < n_up - 1:
                up = nn.ConvTranspose2d(width, width_at(i + 1) * k, 4, 2, 1, bias=bias)
                layers += hidden(width, width_at(i + 1), up)
                width = width_at(i + 1)
        layers += [nn.ConvTranspose2d(width, out_shape[0], 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return run_layers(self.net, z.view(z.shape[0], -1, 1, 1), embed(self.embed, y))


class Discriminator(nn.Module):
    """images (B, C, S, S) (and labels y (B,) when conditional) -> raw output (B,):
    strided convolutions down to 4x4 features phi(x), then one 4x4 convolution (a linear
    map of phi(x)) to a single output (a logit or a critic value). The width doubles
    with each halving of the side, from d_channels up to WIDEST x d_channels.

    `norm` is the normalization of the hidden layers: batch (the paper), layer or none,
    as the loss allows; `act` their nonlinearity (the paper's LeakyReLU(0.2)); `depth`
    the number of convolutions: the base model's one per resolution from S to 4x4 and the
    final one (4 at 32x32), and beyond them 3x3 shape-keeping layers spread over the
    resolutions S/2 .. 4x4, the deeper ones taking the remainder. `conditional` adds a
    class head on phi(x), flattened (gan_cli.models.conditional); `logits=True` asks an
    acgan one for its class logits.
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        d_channels: WIDTH = 64,
        norm: NORM = "batch",
        act: ACT = "leaky_relu",
        depth: DEPTH = None,
        conditional: CONDITIONAL = "none",
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        side = image_side(in_shape, SIDES)
        n_down = int(math.log2(side // 4))  # strided convolutions from S down to 4x4
        extra = extra_layers(depth, n_down + 1, "depth", f"a dcgan critic of {side}x{side}")
        k = widen(act)
        width = d_channels
        layers: list[nn.Module] = [
            nn.Conv2d(in_shape[0], width * k, 4, 2, 1),  # no norm on the input layer
            activation(act),
        ]
        for i, n_same in enumerate(spread(extra, n_down)):
            for _ in range(n_same):  # shape-keeping layers at this resolution
                layers += [
                    nn.Conv2d(width, width * k, 3, 1, 1, bias=norm == "none"),
                    norm_layer(norm, width * k),
                    activation(act),
                ]
            if i < n_down - 1:
                wider = min(width * 2, d_channels * WIDEST)
                layers += [
                    nn.Conv2d(width, wider * k, 4, 2, 1, bias=norm == "none"),
                    norm_layer(norm, wider * k),
                    activation(act),
                ]
                width = wider
        layers.append(nn.Conv2d(width, 1, 4, 1, 0))  # 4x4 -> 1x1
        self.net = nn.Sequential(*layers)
        self.n_features = width * 4 * 4
        self.class_head = head(conditional, self.n_features, n_classes)

    def features(self, x: Tensor) -> Tensor:
        """phi(x), the 4x4 features the last convolution reads, flattened: (B, n_features)."""
        return self.net[:-1](x).flatten(1)

    def forward(self, x: Tensor, y: Tensor | None = None, logits: bool = False):
        h = self.features(x)
        out = self.net[-1](h.view(len(h), -1, 4, 4)).flatten()
        return conditioned(out, h, y, self.class_head, logits)
