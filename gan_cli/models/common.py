"""Pieces shared by the architectures."""

from __future__ import annotations

from torch import nn

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
