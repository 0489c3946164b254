"""Mode coverage on Gaussian mixtures, by the VEEGAN/PacGAN protocol.

A sample is high quality when it lies within 3 standard deviations of its nearest mode
centre; a mode is captured when at least one high-quality sample is nearest to it. With
the isotropic 2-D Gaussians of ring8 and grid25 even a perfect generator scores
P(|N(0, I_2)| <= 3) = 1 - exp(-9/2) = 98.9% high quality.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gan_cli.data.base import POINTS
from gan_cli.metrics.base import Evaluation, register

N_SAMPLES = 2500  # VEEGAN's and PacGAN's protocol


def mode_coverage(samples: Tensor, centers: Tensor, std: float) -> dict[str, float]:
    """samples (N, 2), centers (K, 2), std: the per-coordinate standard deviation of a mode.

    Returns `modes/captured` (0..K) and `modes/hq_fraction` (0..1).
    """
    dist = torch.cdist(samples.float(), centers.to(samples.device).float())  # (N, K)
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist <= 3 * std
    captured = torch.unique(nearest[hq]).numel()
    return {"modes/captured": float(captured), "modes/hq_fraction": hq.float().mean().item()}


@register(
    "modes",
    keys=("modes/captured", "modes/hq_fraction"),
    kinds=(POINTS,),
    fits=lambda data, objective: data.modes is not None,  # a Gaussian mixture
    live=("modes/captured",),
)
def _modes(ev: Evaluation) -> dict[str, float]:
    device = ev.data.heldout.device
    z = torch.randn(N_SAMPLES, ev.generator.z_dim, generator=ev.rng, device=device)
    with torch.no_grad():
        return mode_coverage(ev.generator(z), *ev.data.modes)
