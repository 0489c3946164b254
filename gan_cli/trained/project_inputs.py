"""What gan-sample project=PATH projects: an image, a folder of images (any tree), or
for a run on 2-D points a .npy or .csv of points, read into the generator's data space.
Images of another size are centre-cropped and resized to the generator's (and said so);
images of another channel count are refused, as is anything else, in one line."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gan_cli.core.errors import UserError
from gan_cli.data.image_files import SUFFIXES, Spec, decode, scan

log = logging.getLogger(__name__)

POINT_SUFFIXES = (".npy", ".csv")
ALLOWED = {
    "images": "an image (png|jpg|jpeg|webp) or a folder of them",
    "points": "a .npy or .csv file of (N, 2) points",
}
CHANNELS = {"1": 1, "L": 1, "LA": 1, "I": 1, "I;16": 1, "F": 1}  # PIL modes; the rest: colour


def read_targets(path: str, shape: tuple[int, ...]) -> tuple[Tensor, list[str]]:
    """The targets at `path` for a generator of samples of `shape` ((C, S, S) images or
    (2,) points) -> (targets (N, *shape) in data space, their names: file paths, or
    row numbers for points)."""
    p = Path(path)
    images = len(shape) == 3
    allowed = ALLOWED["images" if images else "points"]
    if not p.exists():
        raise UserError(f"project={path}: no such file or folder; project is {allowed}")
    if not images:
        if p.is_dir() or p.suffix.lower() not in POINT_SUFFIXES:
            raise UserError(f"project={path}: this run makes 2-D points: project is {allowed}")
        points = _points(p, shape[0], allowed)
        return torch.from_numpy(points), [str(i) for i in range(len(points))]
    if p.is_dir():
        files = [p / f.path for f in scan(p)]
        if not files:
            raise UserError(f"project={path}: the folder holds no images; project is {allowed}")
    elif p.suffix.lower() in SUFFIXES:
        files = [p]
    else:
        raise UserError(f"project={path}: this run makes images: project is {allowed}")
    return _images(files, shape), [str(f) for f in files]


def _images(files: list[Path], shape: tuple[int, ...]) -> Tensor:
    """Image files -> (N, C, S, S) in [-1, 1]; another size is resized (one warning for
    all), another channel count refused."""
    from PIL import Image, UnidentifiedImageError

    channels, size = shape[0], shape[1]
    spec = Spec(size, channels, "center")
    out, resized = np.empty((len(files), *shape), dtype=np.uint8), 0
    for i, f in enumerate(files):
        try:
            with Image.open(f) as image:
                mode, (w, h) = image.mode, image.size
            out[i] = decode(str(f), spec)
        except (OSError, UnidentifiedImageError) as e:
            raise UserError(f"project: {f} is not a readable image ({e})") from e
        has = CHANNELS.get(mode, 3)
        if has != channels:
            kinds = {1: "grayscale (1 channel)", 3: "colour (3 channels)"}
            raise UserError(
                f"project: {f} is {kinds[has]}; this generator makes {kinds[channels]} "
                f"images: give {kinds[channels].split(' ')[0]} images"
            )
        resized += (w, h) != (size, size)
    if resized:
        log.warning(
            "project: %d of %d images are not %dx%d: each centre-cropped and resized to it",
            resized,
            len(files),
            size,
            size,
        )
    return torch.from_numpy(out).float() / 127.5 - 1


def _points(path: Path, width: int, allowed: str) -> np.ndarray:
    """A .npy or .csv file of points (a header line allowed) -> (N, width) float32."""
    try:
        if path.suffix.lower() == ".npy":
            points = np.load(path, allow_pickle=False)
        else:
            points = _csv(path)
        points = np.asarray(points, dtype=np.float32)
    except (OSError, ValueError, TypeError) as e:
        raise UserError(f"project={path}: not a readable {path.suffix} of numbers ({e})") from e
    points = points[None] if points.ndim == 1 else points
    if points.ndim != 2 or points.shape[1] != width or not len(points):
        raise UserError(
            f"project={path}: holds an array of shape {points.shape}; this generator makes "
            f"{width}-D points: project is {allowed}"
        )
    if not np.isfinite(points).all():
        raise UserError(f"project={path}: holds NaN or infinite values")
    return points


def _csv(path: Path) -> np.ndarray:
    try:
        return np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError:  # a header line
        return np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)
