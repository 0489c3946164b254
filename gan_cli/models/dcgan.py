"""DCGAN (Radford et al. 2015) for 32x32 and 64x64 images.

The paper's guidelines: strided convolutions in the discriminator and fractionally
strided (transposed) convolutions in the generator, no pooling and no fully connected
hidden layers; batch norm in the generator and in the discriminator (except its input
layer); ReLU in the generator with a tanh output; LeakyReLU(0.2) in the discriminator.
"""

from __future__ import annotations

from torch import Tensor, nn

from gan_cli.models.common import NORM, WIDTH, image_side, norm_layer

SIDES = (32, 64)
FITS = "images of 32x32 or 64x64"


def fits(shape: tuple[int, ...]) -> bool:
    return image_side(shape, SIDES) is not None


class Generator(nn.Module):
    """z (B, z_dim) -> images (B, C, S, S) in [-1, 1], S = 32 or 64.

    z is read as a 1x1 feature map; each transposed convolution doubles the side,
    from 4x4 up, while the width halves down to g_channels.
    """

    def __init__(
        self, out_shape: tuple[int, ...], z_dim: WIDTH = 100, g_channels: WIDTH = 64
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        n_up = {32: 3, 64: 4}[image_side(out_shape, SIDES)]
        width = g_channels * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, width, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(n_up - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, out_shape[0], 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class Discriminator(nn.Module):
    """images (B, C, S, S) -> raw output (B,): strided convolutions down to 4x4, then one
    4x4 convolution to a single linear output (a logit or a critic value).

    `norm` is the normalization of the hidden layers: batch (the paper), layer or none,
    as the loss allows.
    """

    def __init__(
        self, in_shape: tuple[int, ...], d_channels: WIDTH = 64, norm: NORM = "batch"
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

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()
