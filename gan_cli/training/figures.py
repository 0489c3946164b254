"""Sample figures written to the run folder (and sent to W&B)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from gan_cli.core.plotting import pyplot
from gan_cli.data.base import IMAGES, POINTS


@torch.no_grad()
def toy_scatter(
    path: Path,
    fake: Tensor,
    real: Tensor | None,
    critic: Callable[[Tensor], Tensor] | None = None,
    title: str = "",
    grid: int = 128,
) -> None:
    """Generated points (N, 2) over real points (M, 2, if any), over the critic's contour
    (if given).

    As in the WGAN-GP toy figures: the critic's value on a grid covering both sets shows
    where it pushes the generator.
    """
    fake = fake.float().cpu()
    real = fake[:0] if real is None else real.float().cpu()
    both = torch.cat([fake, real])
    lo, hi = both.quantile(0.005, 0), both.quantile(0.995, 0)
    if len(real):  # every real point in view
        lo, hi = torch.minimum(lo, real.min(0).values), torch.maximum(hi, real.max(0).values)
    pad = 0.1 * (hi - lo).clamp_min(0.5)
    lo, hi = lo - pad, hi + pad
    # a square view: with equal scales, a narrow range (the lines) would squeeze its
    # axis and crowd its tick labels
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2
    lo, hi = centre - half, centre + half
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if critic is not None:
        xs = torch.linspace(float(lo[0]), float(hi[0]), grid)
        ys = torch.linspace(float(lo[1]), float(hi[1]), grid)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")
        points = torch.stack([gx.flatten(), gy.flatten()], 1)
        values = critic(points).float().cpu().view(grid, grid)
        contour = ax.contourf(gx, gy, values, levels=20, cmap="RdBu_r", alpha=0.5)
        fig.colorbar(contour, ax=ax, fraction=0.046, pad=0.04, label="critic")
    # points as markers of one line each (not scatter, not tight_layout): the same
    # picture in half the time, and a toy run draws it at every sample_every
    dots = {"linestyle": "none", "marker": "o", "markeredgewidth": 0}
    ax.plot(fake[:, 0], fake[:, 1], ms=2.5, color="green", alpha=0.5, label="generated", **dots)
    if len(real):
        ax.plot(real[:, 0], real[:, 1], ms=1.4, color="darkorange", alpha=0.8, label="real", **dots)
    ax.set_xlim(float(lo[0]), float(hi[0]))
    ax.set_ylim(float(lo[1]), float(hi[1]))
    ax.set_aspect("equal")
    # the legend below the axes, where it covers no point
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, markerscale=3,
              fontsize=8, frameon=False)  # fmt: skip
    ax.set_title(title, fontsize=10)
    fig.subplots_adjust(left=0.1, right=0.86 if critic is not None else 0.97, bottom=0.12, top=0.94)
    fig.savefig(path)
    plt.close(fig)


def toy_paths(path: Path, points: Tensor, steps: int, title: str = "") -> None:
    """Interpolation paths of 2-D points: (K * steps, 2), one path of `steps` points a
    row, drawn as a line of its own colour from a hollow start to a filled end."""
    paths = points.float().cpu().view(-1, steps, 2)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    colours = plt.get_cmap("tab10")
    for i, p in enumerate(paths):
        colour = colours(i % 10)
        ax.plot(p[:, 0], p[:, 1], "-", color=colour, lw=1.2, alpha=0.8)
        ax.plot(p[:-1, 0], p[:-1, 1], "o", color=colour, ms=3)
        ax.plot(p[0, 0], p[0, 1], "o", mfc="white", mec=colour, ms=7)
        ax.plot(p[-1, 0], p[-1, 1], "o", color=colour, ms=7)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title, fontsize=10)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.08, top=0.94)
    fig.savefig(path)
    plt.close(fig)


def image_grid(path: Path, images: Tensor, nrow: int = 8) -> None:
    """images (N, C, H, W) in [-1, 1] -> one PNG grid, nrow images a row."""
    import torchvision  # here, not at the top: 2.5 s to import, and toy runs need none

    torchvision.utils.save_image(images.float().cpu() * 0.5 + 0.5, path, nrow=nrow, padding=2)


COLUMNS = 8  # images a row of a sample grid
ROWS = 16  # classes a conditional grid shows at most, one a row


def first_classes(n_classes: int) -> list[int]:
    """The classes a conditional grid shows when none are chosen: the first ROWS."""
    return list(range(min(ROWS, n_classes)))


def class_rows(z: Tensor, classes) -> tuple[Tensor, Tensor]:
    """The inputs of a grid with one row per class: the latents z (C, z_dim) across every
    row, so a column holds one latent in every class -> ((R*C, z_dim), labels (R*C,))."""
    y = torch.as_tensor(list(classes), dtype=torch.int64, device=z.device)
    return z.repeat(len(y), 1), y.repeat_interleave(len(z))


@dataclass(frozen=True)
class Figure:
    """How samples of one kind of data are shown: how many, in which file (gan-sample),
    and drawn how (points over real points and the critic's contour, or an image grid)."""

    n: int
    file: str
    draw: Callable[..., None]  # (path, fake, real, critic, title, nrow)
    shows_real: bool  # drawn over real samples (gan-sample rebuilds the data for them)
    paths: Callable[..., None]  # interpolations (path, rows of `nrow` samples, title)


def _scatter(path, fake, real=None, critic=None, title="", nrow=None) -> None:
    toy_scatter(path, fake, real, critic, title)


def _grid(path, fake, real=None, critic=None, title="", nrow=COLUMNS) -> None:
    image_grid(path, fake, nrow=nrow)


def _paths(path, rows, title="", nrow=10) -> None:
    toy_paths(path, rows, nrow, title)


def _grid_rows(path, rows, title="", nrow=10) -> None:
    image_grid(path, rows, nrow=nrow)


FIGURES = {
    POINTS: Figure(1000, "scatter.png", _scatter, shows_real=True, paths=_paths),
    IMAGES: Figure(64, "grid.png", _grid, shows_real=False, paths=_grid_rows),
}
