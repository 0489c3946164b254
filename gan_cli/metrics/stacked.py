"""Mode coverage on Stacked MNIST, by the PacGAN protocol: 26,000 generated images
(`metrics.stacked_samples`; about 30 s on 2 CPU cores), each channel classified by the
digits' domain classifier (gan_cli.metrics.domain_classifier), give each image one of 1,000 modes
(100 a + 10 b + c).

- `modes/captured`: modes that receive at least one sample, of 1,000;
- `modes/kl`: KL(generated mode histogram || uniform), 0 for a generator that draws
  every mode equally often and log(1000) = 6.9 for one that draws a single mode.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gan_cli.core.console import phase
from gan_cli.data.base import IMAGES
from gan_cli.metrics import Evaluation, domain_classifier, register

N_MODES = 1000


def mode_histogram(modes: Tensor) -> dict[str, float]:
    """`modes/captured` and `modes/kl` of the modes (N,) in 0..999 of N samples."""
    counts = torch.bincount(modes.cpu(), minlength=N_MODES).double()
    p = counts[counts > 0] / counts.sum()
    kl = (p * (p * N_MODES).log()).sum().item()
    return {"modes/captured": float(len(p)), "modes/kl": kl}


def stack_modes(net: domain_classifier.Classifier, images: Tensor) -> Tensor:
    """Stacked images (N, 3, H, W) -> their modes (N,): each channel read as a digit."""
    digits = [net(images[:, c : c + 1])[1] for c in range(3)]
    return digits[0] * 100 + digits[1] * 10 + digits[2]


@register(
    "stacked_modes",
    keys=("modes/captured", "modes/kl"),
    kinds=(IMAGES,),
    fits=lambda data, objective: data.digits is not None,  # stacked data
    live=("modes/captured",),
)
def _stacked_modes(ev: Evaluation) -> dict[str, float]:
    net = domain_classifier.for_data(ev.data.digits, ev.settings.classifier_steps)
    modes, total = [], ev.settings.stacked_samples
    with torch.no_grad(), phase("stacked modes", total, "images") as done:
        for start in range(0, total, 500):
            n = min(500, total - start)
            modes.append(stack_modes(net, ev.draw(n)))
            done(n)
    return mode_histogram(torch.cat(modes))
