"""DCGAN (Radford et al. 2015) for 32x32 and 64x64 images.

The paper's guidelines: strided convolutions in the discriminator and fractionally
strided (transposed) convolutions in the generator, no pooling and no fully connected
hidden layers; batch norm in the generator and in the discriminator (except its input
layer); ReLU in the generator with a tanh output; LeakyReLU(0.2) in the discriminator.
"""

from __future__ import annotations

from torch import Tensor, nn

from gan_cli.models.common import NORM, WIDTH, image_side, norm_layer
from gan_cli.models.conditional import (
    CONDITIONAL,
    batch_norm,
    class_embedding,
    conditioned,
    embed,
    head,
    run_layers,
)

SIDES = (32, 64)
FITS = "images of 32x32 or 64x64"


def fits(shape: tuple[int, ...]) -> bool:
    return image_side(shape, SIDES) is not None


class Generator(nn.Module):
    """z (B, z_dim) and, with n_classes > 0, labels y (B,) -> images (B, C, S, S) in
    [-1, 1], S = 32 or 64.

    z is read as a 1x1 feature map; each transposed convolution doubles the side,
    from 4x4 up, while the width halves down to g_channels. A class-conditional
    generator has conditional batch norm (gan_cli.models.conditional).
    """

    def __init__(
        self,
        out_shape: tuple[int, ...],
        z_dim: WIDTH = 100,
        g_channels: WIDTH = 64,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        self.z_dim, self.n_classes = z_dim, n_classes
        self.embed = class_embedding(n_classes)
        n_up = {32: 3, 64: 4}[image_side(out_shape, SIDES)]
        width = g_channels * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, width, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            batch_norm(width, n_classes),
            nn.ReLU(True),
        ]
        for _ in range(n_up - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                batch_norm(width // 2, n_classes),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, out_shape[0], 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return run_layers(self.net, z.view(z.shape[0], -1, 1, 1), embed(self.embed, y))


class Discriminator(nn.Module):
    """images (B, C, S, S) (and labels y (B,) when conditional) -> raw output (B,):
    strided convolutions down to 4x4 features phi(x), then one 4x4 convolution (a linear
    map of phi(x)) to a single output (a logit or a critic value).

    `norm` is the normalization of the hidden layers: batch (the paper), layer or none,
    as the loss allows. `conditional` adds a class head on phi(x), flattened
    (gan_cli.models.conditional); `logits=True` asks an acgan one for its class logits.
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        d_channels: WIDTH = 64,
        norm: NORM = "batch",
        conditional: CONDITIONAL = "none",
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        n_down = {32: 3, 64: 4}[image_side(in_shape, SIDES)]
        width = d_channels
        layers: list[nn.Module] = [
            nn.Conv2d(in_shape[0], width, 4, 2, 1),  # no norm on the input layer
            nn.LeakyReLU(0.2, True),
        ]
        for _ in range(n_down - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm == "none"),
                norm_layer(norm, width * 2),
                nn.LeakyReLU(0.2, True),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0))  # 4x4 -> 1x1
        self.net = nn.Sequential(*layers)
        self.class_head = head(conditional, width * 4 * 4, n_classes)

    def forward(self, x: Tensor, y: Tensor | None = None, logits: bool = False):
        h = self.net[:-1](x)  # phi(x): (B, width, 4, 4)
        out = self.net[-1](h).flatten()
        return conditioned(out, h.flatten(1), y, self.class_head, logits)
