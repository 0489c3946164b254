"""A folder of your own images (data=image_folder): every png/jpg under a tree, decoded
once into memory, square-cropped at one size; class labels from subfolders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torchvision
from PIL import Image
from torch import Tensor

from gan_cli.core.console import phase
from gan_cli.core.errors import UserError
from gan_cli.core.params import Annotated, Check, at_least
from gan_cli.data.base import Labels
from gan_cli.data.memory import AUGMENT, BATCH, FRACTION, HELDOUT, TARGET, ImageData

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageFolder(ImageData):
    """Every png/jpg under `path` (any tree), resized so the shorter side is `image_size`,
    centre-cropped to image_size x image_size, RGB (channels=3) or grayscale (1).

    Held out: a fixed random tenth of the images (at most heldout_size), never trained on.
    Labelled when every image sits in one of two or more class subfolders of `path`
    (path/<class name>/**/image.png, as torchvision's ImageFolder reads them).
    """

    def __init__(
        self,
        path: str,
        image_size: Annotated[int, at_least(8, "an integer")] = 64,
        channels: Annotated[int, Check(lambda v: v in (1, 3), "one of 1|3")] = 3,
        batch_size: BATCH = 64,
        heldout_size: HELDOUT = 2000,
        seed: int = 0,
        device: str | torch.device = "cpu",
        fraction: FRACTION = 1.0,
        augment: AUGMENT = "",
        augment_target: TARGET = None,
    ) -> None:
        files = self.prepare(path)
        mode = "RGB" if channels == 3 else "L"
        read = []
        with phase(f"reading {path}", len(files), "images") as done:
            for f in files:
                read.append(_square(_read(f, mode), image_size))
                done(1)
        images = torch.stack(read)
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        n_heldout = max(1, min(heldout_size, len(images) // 10))
        heldout, train = images[order[:n_heldout]], images[order[n_heldout:]]
        classes = class_folders(Path(path), files)
        labels = None
        if classes is not None:
            names, targets = classes
            labels = Labels(targets[order[n_heldout:]], targets[order[:n_heldout]], names)
        super().__init__(
            train,
            heldout,
            n_heldout,
            batch_size,
            seed,
            device,
            labels,
            fraction,
            augment,
            augment_target,
        )
        self.cache_dir = Path(path)

    @classmethod
    def sample_shape(cls, image_size: int = 64, channels: int = 3, **_: Any) -> tuple[int, ...]:
        return (channels, image_size, image_size)

    @staticmethod
    def prepare(path: str, **_: Any) -> list[Path]:
        folder = Path(path)
        if path in ("???", "") or not folder.is_dir():
            raise UserError(
                f"data.path={path!r} is not a folder: data=image_folder needs data.path=DIR, "
                "a folder tree of png or jpg images"
            )
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) < 2:
            raise UserError(f"data.path={path}: found {len(files)} png/jpg images, need at least 2")
        return files


def class_folders(root: Path, files: list[Path]) -> tuple[tuple[str, ...], Tensor] | None:
    """(class names, one label per file) when every file lies in one of two or more
    subfolders of root, named after the class; else None (unlabelled)."""
    parts = [f.relative_to(root).parts for f in files]
    if any(len(p) < 2 for p in parts):
        return None
    names = tuple(sorted({p[0] for p in parts}))
    if len(names) < 2:
        return None
    index = {name: i for i, name in enumerate(names)}
    return names, torch.tensor([index[p[0]] for p in parts], dtype=torch.int64)


def _read(path: Path, mode: str) -> Tensor:
    """An image file as uint8 (C, H, W), converted to RGB or grayscale ("L")."""
    with Image.open(path) as image:
        return torchvision.transforms.functional.pil_to_tensor(image.convert(mode))


def _square(image: Tensor, size: int) -> Tensor:
    """uint8 (C, H, W) -> (C, size, size): shorter side to `size`, then a centre crop."""
    h, w = image.shape[1:]
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    image = torchvision.transforms.functional.resize(image, [new_h, new_w], antialias=True)
    return torchvision.transforms.functional.center_crop(image, [size, size])
