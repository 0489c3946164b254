"""Exact W1 between two point clouds, by optimal transport (POT's network simplex)."""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np
import torch

from gan_cli.data.base import POINTS
from gan_cli.metrics.base import Evaluation, register


def exact_w1(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray) -> float:
    """W1 between the empirical measures of x (n, d) and y (m, d), uniform weights.

    Ground cost: Euclidean distance. Computed in float64, so the answer is exact up to
    rounding for these finite samples (it estimates W1 of the underlying distributions
    with the usual sampling bias).
    """
    x = _as_float64(x)
    y = _as_float64(y)
    ot = _pot()
    cost = ot.dist(x, y, metric="euclidean")
    a = np.full(len(x), 1.0 / len(x))
    b = np.full(len(y), 1.0 / len(y))
    # the default iteration cap (1e5) stops short on 2,000 x 2,000 problems
    return float(ot.emd2(a, b, cost, numItermax=10_000_000))


def _pot() -> ModuleType:
    """POT, imported on first use and without scikit-learn: POT reads scikit-learn only
    for its low-rank and dimension-reduction solvers, and runs without it (its
    minimal-dependency builds), while importing it costs a second. The network simplex
    (ot.emd2) never uses it. An entry of None in sys.modules makes an import of it fail."""
    if "ot" not in sys.modules and "sklearn" not in sys.modules:
        sys.modules["sklearn"] = None  # type: ignore[assignment]
        try:
            import ot  # noqa: F401
        finally:
            del sys.modules["sklearn"]
    import ot

    return ot


def _as_float64(points: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(points, torch.Tensor):
        points = points.detach().cpu().numpy()
    return np.ascontiguousarray(points, dtype=np.float64).reshape(len(points), -1)


@register("exact_w1", keys=("wasserstein/exact",), kinds=(POINTS,), live=("wasserstein/exact",))
def _exact(ev: Evaluation) -> dict[str, float]:
    return {"wasserstein/exact": exact_w1(ev.fake, ev.data.heldout)}
