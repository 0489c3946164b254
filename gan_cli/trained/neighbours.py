"""Does a generator copy its training set? (gan-sample nearest=K): each sample's K
nearest training images, in the domain classifier's features where the data has labels
(else in pixels, at most 32 a side), and the copy rate: the share of samples nearer
their nearest training image than the median held-out real image is to its nearest
training image (0.5 for a generator that draws fresh images of the data, near 1 for one
that copies). The same measure as the doctor's `health/copy_rate`
(gan_cli.metrics.overfitting), over the first 10,000 training images."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from gan_cli.core.atomic import atomic_write
from gan_cli.core.errors import UserError
from gan_cli.core.plotting import pyplot
from gan_cli.data.base import IMAGES, DataSource
from gan_cli.metrics.domain_classifier import for_data
from gan_cli.metrics.overfitting import TRAIN_EXAMPLES, nearest, pixels

SHOWN = 8  # samples the figure shows, one a row


@dataclass(frozen=True)
class Neighbours:
    """Each sample's `k` nearest training images: their indices among the first training
    images and their distances (N, k), ascending; the copy rate; the space measured in."""

    indices: Tensor
    distances: Tensor
    copy_rate: float
    space: str


def find(data: DataSource, fake: Tensor, k: int, classifier_steps: int) -> Neighbours:
    """The nearest training images of `fake` (N, C, H, W) in [-1, 1]."""
    if data.kind != IMAGES:
        raise UserError(
            f"nearest=K looks for copies among a finite set of training images; this run's "
            f"data holds {data.kind}, drawn afresh at every step"
        )
    train = data.first_examples(min(TRAIN_EXAMPLES, data.n_examples))
    if data.labels is None or data.digits is not None:
        space = "pixels"
        f_fake, f_held, f_train = (pixels(x) for x in (fake, data.heldout, train))
    else:
        space = "the domain classifier's features"
        net = for_data(data, classifier_steps)
        f_fake, f_held, f_train = (net.read(x)[0] for x in (fake, data.heldout, train))
    k = min(k, len(f_train))
    found = [torch.cdist(part, f_train).topk(k, largest=False) for part in f_fake.split(1000)]
    distances = torch.cat([d.values for d in found])
    gap = nearest(f_held, f_train).median()
    rate = (distances[:, 0] < gap).double().mean().item()
    return Neighbours(torch.cat([d.indices for d in found]), distances, rate, space)


def write(out: Path, fake: Tensor, train: Tensor, found: Neighbours) -> list[str]:
    """nearest.csv (every sample's neighbours: rank, training index, distance) and
    nearest.png (the first samples, each beside its neighbours); the names written."""
    with atomic_write(out / "nearest.csv", "w") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["sample", "rank", "train_index", "distance"])
        for i, (indices, distances) in enumerate(zip(found.indices, found.distances, strict=True)):
            for rank, (j, d) in enumerate(zip(indices.tolist(), distances.tolist(), strict=True)):
                writer.writerow([i, rank + 1, j, f"{d:.6g}"])
    _figure(out / "nearest.png", fake, train, found)
    return [
        f"nearest.csv, nearest.png (copy rate {found.copy_rate:.3f}, in {found.space})",
    ]


def _figure(path: Path, fake: Tensor, train: Tensor, found: Neighbours) -> None:
    """Each of the first samples (left, framed) beside its K nearest training images."""
    import torchvision

    rows = min(SHOWN, len(fake))
    k = found.indices.shape[1]
    tiles = torch.cat(
        [torch.cat([fake[i : i + 1].cpu(), train[found.indices[i]].cpu()]) for i in range(rows)]
    )
    grid = torchvision.utils.make_grid(tiles.float() * 0.5 + 0.5, nrow=k + 1, padding=2)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.2 * (k + 1), 1.2 * rows + 0.8), dpi=100)
    ax.imshow(grid.permute(1, 2, 0).clamp(0, 1).numpy())
    ax.set_axis_off()
    ax.set_title(
        f"each sample (left) beside its {k} nearest training images, in {found.space};\n"
        f"copy rate {found.copy_rate:.3f} (0.5: fresh samples; near 1: copies)",
        fontsize=8,
    )
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    plt.close(fig)
