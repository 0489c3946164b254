"""Pieces shared by the architectures."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_cli.core.params import POSITIVE_INT, Annotated, OneOf

NORMS = ("batch", "layer", "none")
# the annotations of the models' keyword arguments: type and allowed values, once
NORM = Annotated[str, OneOf(NORMS)]
WIDTH = Annotated[int, POSITIVE_INT]


def norm_layer(kind: str, channels: int, conv: bool = True) -> nn.Module:
    """batch norm, layer norm (over all of C, H, W for a conv feature map) or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels) if conv else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if conv else nn.LayerNorm(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; one of {NORMS}")


def image_side(shape: tuple[int, ...], sides: tuple[int, ...]) -> int | None:
    """The side of square (C, H, W) images whose side is in `sides`, else None."""
    if len(shape) == 3 and shape[1] == shape[2] and shape[1] in sides:
        return shape[1]
    return None


# --- the architecture's knobs (WGAN-GP's architecture study: Gulrajani et al. 2017, 5.1) ---

ACTS = ("relu", "leaky_relu", "softplus", "tanh", "gated")
ACT = Annotated[str, OneOf(ACTS)]
# a network's number of weight layers (convolutions and linear maps); None: the base model's
DEPTH = Annotated[Optional[int], POSITIVE_INT]  # noqa: UP045 (OmegaConf reads Optional)


class ArchError(ValueError):
    """An architecture its knobs cannot build; `param` is the constructor's argument."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class ShiftedSoftplus(nn.Module):
    """softplus(2x + 2) / 2 - 1: the smooth ReLU of the WGAN-GP study, bounded below by -1."""

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(2 * x + 2) / 2 - 1


class Gated(nn.Module):
    """tanh(a) * sigmoid(b) of the two halves (a, b) of the channels: the gated
    multiplicative nonlinearity (PixelCNN's); the layer before it gives twice the width."""

    def forward(self, x: Tensor) -> Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.tanh(a) * torch.sigmoid(b)


def activation(kind: str) -> nn.Module:
    """The nonlinearity `kind` (one of ACTS); leaky_relu's slope is DCGAN's 0.2."""
    return {
        "relu": lambda: nn.ReLU(True),
        "leaky_relu": lambda: nn.LeakyReLU(0.2, True),
        "softplus": ShiftedSoftplus,
        "tanh": nn.Tanh,
        "gated": Gated,
    }[kind]()


def widen(kind: str) -> int:
    """How many times its output width the layer before the nonlinearity `kind` gives."""
    return 2 if kind == "gated" else 1


def spread(extra: int, stages: int) -> list[int]:
    """`extra` layers over `stages` stages, as evenly as possible, the later stages (the
    higher resolutions of a generator, the deeper ones of a critic) first:
    spread(5, 3) == [1, 2, 2]."""
    return [extra // stages + (i >= stages - extra % stages) for i in range(stages)]


def extra_layers(depth: int | None, base: int, param: str, what: str) -> int:
    """How many shape-keeping layers a network of `depth` weight layers adds to the
    `base` of its model; an ArchError naming `param` for one shallower than the base."""
    if depth is None:
        return 0
    if depth < base:
        raise ArchError(param, f"{what} needs at least {base} layers, not {depth}")
    return depth - base
