"""Fully connected generator and discriminator (Goodfellow et al. 2014; WGAN-GP toy code).

Both work on any sample shape: images are flattened on the way in and reshaped on the
way out, as in the original GAN paper.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gan_cli.core.params import COUNT, Annotated
from gan_cli.models.common import ACT, DEPTH, NORM, WIDTH, activation, norm_layer, widen
from gan_cli.models.conditional import CONDITIONAL, class_embedding, conditioned, embed, head

FITS = "any data (images are flattened)"


def fits(shape: tuple[int, ...]) -> bool:
    return True


def _mlp(
    in_dim: int, out_dim: int, hidden_dim: int, n_layers: int, norm: str, act: str
) -> nn.Sequential:
    """n_layers hidden layers (linear, norm, nonlinearity), then a linear output."""
    layers: list[nn.Module] = []
    k = widen(act)
    for i in range(n_layers):
        layers.append(nn.Linear(in_dim if i == 0 else hidden_dim, hidden_dim * k))
        if norm != "none":
            layers.append(norm_layer(norm, hidden_dim * k, conv=False))
        layers.append(activation(act))
    layers.append(nn.Linear(hidden_dim if n_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


def _hidden(n_layers: int, depth: int | None) -> int:
    """The hidden layers of a network of `depth` linear layers (None: n_layers of them)."""
    return n_layers if depth is None else depth - 1


class Generator(nn.Module):
    """z (B, z_dim) -> x (B, *out_shape). A linear output for unbounded data (points);
    tanh for `bounded` data in [-1, 1] (images). With n_classes > 0 it also takes labels
    y (B,), whose learnt embedding is concatenated to z.

    The architecture study's knobs: `act` and `norm` of the hidden layers, and `depth`,
    the number of linear layers (n_layers hidden ones and the output; depth replaces
    n_layers when given: every hidden layer keeps the shape, hidden_dim wide)."""

    def __init__(
        self,
        out_shape: tuple[int, ...],
        z_dim: WIDTH = 2,
        hidden_dim: WIDTH = 256,
        n_layers: Annotated[int, COUNT] = 3,
        act: ACT = "relu",
        norm: NORM = "none",
        depth: DEPTH = None,
        bounded: bool = False,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        self.z_dim, self.n_classes = z_dim, n_classes
        self.out_shape = tuple(out_shape)
        self.embed = class_embedding(n_classes)
        in_dim = z_dim + (self.embed.embedding_dim if n_classes else 0)
        n_hidden = _hidden(n_layers, depth)
        self.net = _mlp(in_dim, math.prod(self.out_shape), hidden_dim, n_hidden, norm, act)
        if bounded:
            self.net.append(nn.Tanh())

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            z = torch.cat([z, embed(self.embed, y)], dim=1)
        return self.net(z).view(-1, *self.out_shape)


class Discriminator(nn.Module):
    """x (B, *in_shape) (and labels y (B,) when conditional) -> raw output (B,): a logit
    or a critic value, as the loss reads it. A class head (gan_cli.models.conditional)
    reads the last hidden layer; `logits=True` asks an acgan one for its class logits.
    `act`, `norm` and `depth` as the generator's."""

    flattens = True  # it reads any input as a vector (a pair critic concatenates x and z)

    def __init__(
        self,
        in_shape: tuple[int, ...],
        hidden_dim: WIDTH = 256,
        n_layers: Annotated[int, COUNT] = 3,
        norm: NORM = "none",
        act: ACT = "relu",
        depth: DEPTH = None,
        conditional: CONDITIONAL = "none",
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        n_hidden = _hidden(n_layers, depth)
        self.net = _mlp(math.prod(in_shape), 1, hidden_dim, n_hidden, norm, act)
        self.n_features = hidden_dim if n_hidden else math.prod(in_shape)
        self.class_head = head(conditional, self.n_features, n_classes)

    def features(self, x: Tensor) -> Tensor:
        """phi(x), the last hidden layer: (B, n_features)."""
        return self.net[:-1](x.flatten(1))

    def forward(self, x: Tensor, y: Tensor | None = None, logits: bool = False):
        h = self.features(x)
        return conditioned(self.net[-1](h).squeeze(1), h, y, self.class_head, logits)
