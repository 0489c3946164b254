"""Samples from a trained generator, as gan-sample writes them: in batches behind a
progress bar, one PNG per image, a byte-identical samples.npz for the same seed,
spherical interpolations, the grid of a conditional generator (one row per class), and
the truncation trick."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from gan_cli.core.atomic import atomic_write
from gan_cli.core.console import phase
from gan_cli.models.conditional import generate as generate_batch
from gan_cli.training.conditioning import SampleClasses
from gan_cli.training.figures import COLUMNS, class_rows, first_classes


@torch.no_grad()
def generate(
    G: nn.Module,
    n: int,
    seed: int,
    batch_size: int,
    device: torch.device,
    pngs: Path | None,
    labels: SampleClasses,
    truncation: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """`n` samples (of each class asked for), their latents and their classes (None:
    unconditional), `batch_size` at a time, with a progress bar; with `pngs`, one PNG
    per image there as they come; with `truncation`, from latents truncated at it
    (`truncate`). Memory: the arrays and one batch."""
    z_dim, total = G.z_dim, labels.total(n)
    rng = torch.Generator(device=device).manual_seed(seed)
    xs = zs = ys = None  # filled in place
    with phase("gan-sample", total, "images") as done:
        for start in range(0, total, batch_size):
            count = min(batch_size, total - start)
            z = torch.randn(count, z_dim, generator=rng, device=device)
            if truncation is not None:
                z = truncate(z, truncation, rng)
            y = labels.of(start, count, n, rng, device)
            x = generate_batch(G, z, y).float().cpu()
            if xs is None:
                xs = np.empty((total, *x.shape[1:]), dtype=np.float32)
                zs = np.empty((total, z_dim), dtype=np.float32)
                ys = None if y is None else np.empty(total, dtype=np.int64)
            xs[start : start + count] = x.numpy()
            zs[start : start + count] = z.cpu().numpy()
            if ys is not None:
                ys[start : start + count] = y.cpu().numpy()
            if pngs is not None:
                write_pngs(x, pngs, start)
            done(count)
    return xs, zs, ys


def truncate(z: Tensor, psi: float, rng: torch.Generator) -> Tensor:
    """The truncation trick (Brock et al. 2019, BigGAN): each latent component whose
    magnitude exceeds `psi` is redrawn from N(0, 1) with `rng` until it falls within
    [-psi, psi]; the others are kept. z (N, D) from N(0, I) -> (N, D) from the standard
    normal truncated to [-psi, psi] in each component: samples nearer the mode, less
    varied."""
    z = z.clone()
    beyond = z.abs() > psi
    while beyond.any():
        z[beyond] = torch.randn(int(beyond.sum()), generator=rng, device=z.device, dtype=z.dtype)
        beyond = z.abs() > psi
    return z


class Truncated(nn.Module):
    """G whose every latent is truncated at `psi` (`truncate`) before it is read: what a
    metric that draws its own latents then scores."""

    def __init__(self, G: nn.Module, psi: float, rng: torch.Generator) -> None:
        super().__init__()
        self.G, self.psi, self.rng, self.z_dim = G, psi, rng, G.z_dim

    def forward(self, z: Tensor, *labels: Tensor) -> Tensor:
        return self.G(truncate(z, self.psi, self.rng), *labels)


def to_uint8(x: Tensor) -> Tensor:
    """Images in [-1, 1] -> uint8 [0, 255], as they were before training scaled them."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def write_pngs(x: Tensor, folder: Path, start: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(to_uint8(x)):
        array = image.permute(1, 2, 0).numpy()
        Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(
            folder / f"{start + i:06d}.png"
        )


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """np.savez's format with fixed zip timestamps (byte-identical for identical arrays),
    never half-written."""
    with atomic_write(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array))
            zf.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                buffer.getvalue(),
            )


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between latents a, b (D,) at fractions t (T,) -> (T, D)."""
    omega = torch.arccos((a / a.norm() * b / b.norm()).sum().clamp(-1, 1))
    if omega.abs() < 1e-6:
        return (1 - t)[:, None] * a + t[:, None] * b
    s = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / s)[:, None] * a + (torch.sin(t * omega) / s)[:, None] * b


@torch.no_grad()
def interpolation(
    G: nn.Module, rows: int, seed: int, device: torch.device, classes: list[int] | None = None
) -> Tensor:
    """`rows` spherical interpolations between two random latents, 10 steps each; for a
    conditional generator, within one class per row (cycling through `classes`)."""
    rng = torch.Generator(device=device).manual_seed(seed + 1)  # not the samples' latents
    t = torch.linspace(0, 1, 10, device=device)
    ends = torch.randn(rows, 2, G.z_dim, generator=rng, device=device)
    z = torch.cat([slerp(a, b, t) for a, b in ends])
    y = None
    if classes:
        y = torch.tensor([classes[r % len(classes)] for r in range(rows)], device=device)
        y = y.repeat_interleave(len(t))
    return generate_batch(G, z, y).float().cpu()


@torch.no_grad()
def class_grid(G: nn.Module, x: np.ndarray, labels: SampleClasses, seed: int, device) -> Tensor:
    """A conditional generator's grid, one row per class: with classes asked for, the
    first COLUMNS samples of each; else the first classes (plots.first_classes) from the
    same COLUMNS latents (one a column)."""
    if labels.asked:
        n = len(x) // len(labels.asked)
        cols = min(n, COLUMNS)
        return torch.cat(
            [torch.from_numpy(x[i * n : i * n + cols]) for i in range(len(labels.asked))]
        )
    rng = torch.Generator(device=device).manual_seed(seed + 2)  # not the samples' latents
    z = torch.randn(COLUMNS, G.z_dim, generator=rng, device=device)
    return generate_batch(G, *class_rows(z, grid_rows(labels))).float().cpu()


def grid_rows(labels: SampleClasses) -> list[int]:
    """The classes of a conditional grid's rows: those asked for, or the first few."""
    return labels.asked or first_classes(len(labels.classes.names))
