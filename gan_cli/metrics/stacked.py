"""Mode coverage on Stacked MNIST, by the PacGAN protocol: 26,000 generated images
(`metrics.stacked_samples`; about 30 s on 2 CPU cores), each channel classified by the
digits' domain classifier (gan_cli.metrics.domain_classifier), give each image one of 1,000 modes
(100 a + 10 b + c).

- `modes/captured`: modes that receive at least one sample, of 1,000;
- `modes/kl`: KL(generated mode histogram || uniform), 0 for a generator that draws
  every mode equally often and log(1000) = 6.9 for one that draws a single mode.

At a run's first evaluation, `floor/modes/captured` and `floor/modes/kl`: the same
counts for as many real training stacks, drawn at random: what a generator that draws
the data itself scores. The classifier misreads some digits and the training stacks
are a finite draw, so even these do not reach KL 0; a run is read against them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gan_cli.core.console import phase
from gan_cli.data.base import IMAGES
from gan_cli.metrics import domain_classifier
from gan_cli.metrics.base import Evaluation, register

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


def floor(data, net: domain_classifier.Classifier, n: int, seed: int) -> dict[str, float]:
    """`floor/modes/*`: the modes of n real training stacks drawn uniformly (with
    replacement, as a generator of the data would), read by `net`."""
    pick = torch.randint(len(data.train), (n,), generator=torch.Generator().manual_seed(seed))
    modes = [stack_modes(net, data.train[part].float() / 127.5 - 1) for part in pick.split(500)]
    return {f"floor/{k}": v for k, v in mode_histogram(torch.cat(modes)).items()}


_FLOORED: set = set()  # (classifier file, data) whose floor this process logged


@register(
    "stacked_modes",
    keys=("modes/captured", "modes/kl", "floor/modes/captured", "floor/modes/kl"),
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
    out = mode_histogram(torch.cat(modes))
    if (net.path, id(ev.data)) not in _FLOORED:  # once a run
        _FLOORED.add((net.path, id(ev.data)))
        out |= floor(ev.data, net, total, ev.seed)
    return out
