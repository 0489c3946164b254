"""Sliced Wasserstein distance, a cheap distance for images that needs no trained network."""

from __future__ import annotations

import torch
from torch import Tensor

from gan_cli.data.base import IMAGES
from gan_cli.metrics.base import Evaluation, register


def sliced_w1(x: Tensor, y: Tensor, n_projections: int = 256, seed: int = 0) -> float:
    """SW1 between two equal-sized sets x, y (N, ...) on their flattened values (pixels).

    The mean, over `n_projections` random unit directions theta, of the exact 1-D W1
    between the projections theta . x and theta . y: for equal-sized sets, the mean
    absolute difference of the sorted projections. Same seed, same directions.
    """
    if len(x) != len(y):
        raise ValueError(f"sliced_w1 needs sets of equal size, got {len(x)} and {len(y)}")
    x, y = x.flatten(1).float(), y.flatten(1).float()
    gen = torch.Generator().manual_seed(seed)
    theta = torch.randn(x.shape[1], n_projections, generator=gen).to(x.device)
    theta = theta / theta.norm(dim=0, keepdim=True)
    px, _ = (x @ theta).sort(dim=0)
    py, _ = (y @ theta).sort(dim=0)
    return (px - py).abs().mean().item()


@register("sliced_w1", keys=("wasserstein/sliced",), kinds=(IMAGES,))
def _sliced(ev: Evaluation) -> dict[str, float]:
    return {"wasserstein/sliced": sliced_w1(ev.fake, ev.data.heldout)}
