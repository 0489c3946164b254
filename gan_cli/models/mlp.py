"""Fully connected generator and discriminator (Goodfellow et al. 2014; WGAN-GP toy code).

Both work on any sample shape: images are flattened on the way in and reshaped on the
way out, as in the original GAN paper.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from gan_cli.models.common import NORM, WIDTH, norm_layer
from gan_cli.params import COUNT, Annotated

FITS = "any data (images are flattened)"


def fits(shape: tuple[int, ...]) -> bool:
    return True


def _mlp(in_dim: int, out_dim: int, hidden_dim: int, n_layers: int, norm: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n_layers):
        layers.append(nn.Linear(in_dim if i == 0 else hidden_dim, hidden_dim))
        if norm != "none":
            layers.append(norm_layer(norm, hidden_dim, conv=False))
        layers.append(nn.ReLU())
    layers.append(nn.Linear(hidden_dim if n_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """z (B, z_dim) -> x (B, *out_shape). A linear output for unbounded data (points);
    tanh for `bounded` data in [-1, 1] (images)."""

    def __init__(
        self,
        out_shape: tuple[int, ...],
        z_dim: WIDTH = 2,
        hidden_dim: WIDTH = 256,
        n_layers: Annotated[int, COUNT] = 3,
        bounded: bool = False,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.out_shape = tuple(out_shape)
        self.net = _mlp(z_dim, math.prod(self.out_shape), hidden_dim, n_layers, "none")
        if bounded:
            self.net.append(nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.out_shape)


class Discriminator(nn.Module):
    """x (B, *in_shape) -> raw output (B,): a logit or a critic value, as the loss reads it."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        hidden_dim: WIDTH = 256,
        n_layers: Annotated[int, COUNT] = 3,
        norm: NORM = "none",
    ) -> None:
        super().__init__()
        self.net = _mlp(math.prod(in_shape), 1, hidden_dim, n_layers, norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).squeeze(1)
