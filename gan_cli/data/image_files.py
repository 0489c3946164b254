"""An image folder's files: which images it holds, their class labels (from class
subfolders or a labels file), and one image decoded at the training resolution.

No torch here: the processes that decode a folder (gan_cli.data.packing) run only PIL
and numpy.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_cli.core.errors import UserError

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
CROPS = ("center", "pad")


@dataclass(frozen=True)
class Spec:
    """How a folder's images become training images: side x side pixels, RGB (channels=3)
    or grayscale (1), the non-square ones centre-cropped or padded (`crop`)."""

    image_size: int
    channels: int
    crop: str


@dataclass(frozen=True)
class SourceFile:
    """One image file as the folder holds it: its path relative to the folder, its size
    in bytes and its modification time in nanoseconds."""

    path: str
    size: int
    mtime_ns: int


# --- what a folder holds ------------------------------------------------------------------


def scan(folder: Path) -> list[SourceFile]:
    """Every png, jpg or webp file under `folder` (any tree, symbolic links followed),
    sorted by path."""
    found = []
    stack = [folder]
    while stack:
        here = stack.pop()
        with os.scandir(here) as entries:
            for entry in entries:
                if entry.is_dir():
                    stack.append(Path(entry.path))
                elif entry.name.lower().endswith(SUFFIXES) and entry.is_file():
                    stat = entry.stat()
                    rel = Path(entry.path).relative_to(folder).as_posix()
                    found.append(SourceFile(rel, stat.st_size, stat.st_mtime_ns))
    return sorted(found, key=lambda f: f.path)


def list_images(path: str) -> list[SourceFile]:
    """The images of data.path, or one line saying why there are none to train on."""
    folder = Path(path)
    if path in ("???", "") or not folder.is_dir():
        raise UserError(
            f"data.path={path!r} is not a folder: data=image_folder needs data.path=DIR, "
            f"a folder tree of {'/'.join(s[1:] for s in SUFFIXES)} images"
        )
    files = scan(folder)
    if len(files) < 2:
        raise UserError(
            f"data.path={path}: found {len(files)} png/jpg/webp images, need at least 2"
        )
    return files


def class_folders(files: list[SourceFile]) -> tuple[list[str], np.ndarray] | None:
    """(class names, one label per file) when every file lies in one of two or more
    subfolders of the folder, named after its class (as torchvision's ImageFolder reads
    them); else None (unlabelled)."""
    tops = [f.path.split("/")[0] if "/" in f.path else None for f in files]
    if None in tops:
        return None
    names = sorted(set(tops))
    if len(names) < 2:
        return None
    index = {name: i for i, name in enumerate(names)}
    return names, np.array([index[t] for t in tops], dtype=np.int64)


def labels_from_file(labels: str, files: list[SourceFile]) -> tuple[list[str], np.ndarray]:
    """(class names, one label per file) from a labels file: a CSV with the columns
    `file,label` (paths relative to the folder, labels names or integers), or a
    stylegan-style dataset.json ({"labels": [["path", 3], ...]})."""
    path = labels_file(labels)
    try:
        if path.suffix.lower() == ".json":
            rows = json.loads(path.read_text())["labels"]
            given = {str(f): str(int(label)) for f, label in rows}
        else:
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames is None or not {"file", "label"} <= set(reader.fieldnames):
                    raise ValueError("its first line must name the columns file,label")
                given = {row["file"]: row["label"] for row in reader}
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        raise UserError(
            f"data.labels={labels} cannot be read ({e}): a CSV with the columns file,label, "
            'or a dataset.json {"labels": [["path", 0], ...]}'
        ) from e
    missing = [f.path for f in files if f.path not in given]
    if missing:
        raise UserError(
            f"data.labels={labels} has no label for {len(missing)} of the {len(files)} "
            f"images (first: {missing[0]})"
        )
    values = sorted({given[f.path] for f in files}, key=_natural)
    index = {v: i for i, v in enumerate(values)}
    return values, np.array([index[given[f.path]] for f in files], dtype=np.int64)


def labels_file(labels: str) -> Path:
    """data.labels as a path, or one line saying it is not a file."""
    path = Path(labels)
    if not path.is_file():
        raise UserError(f"data.labels={labels}: no such file (a CSV file,label or a dataset.json)")
    return path


def unreadable(path: Path, why: str) -> UserError:
    """The line for an image that cannot be decoded."""
    return UserError(
        f"{path} cannot be read ({why}): remove it, or set data.skip_bad=true to leave "
        "unreadable images out"
    )


def _natural(label: str) -> tuple:
    """Integers in numeric order, before names in alphabetical order."""
    return (0, int(label), "") if re.fullmatch(r"-?\d+", label) else (1, 0, label)


# --- decoding one image ---------------------------------------------------------------


def decode(path: str, spec: Spec) -> np.ndarray:
    """An image file as uint8 (C, S, S): EXIF orientation applied, converted to RGB or
    grayscale, then `center`: the shorter side scaled to S and the middle S x S kept;
    `pad`: the longer side scaled to S and the rest filled with black (scaled with
    PIL's antialiased bilinear filter, as torchvision's Resize scales). JPEGs are decoded
    at the smallest scale that still covers S (the codec's own down-scaling), which is
    most of why decoding a folder of photographs is fast."""
    from PIL import Image, ImageOps

    size, mode = spec.image_size, "RGB" if spec.channels == 3 else "L"
    with Image.open(path) as image:
        w, h = image.size
        scale = size / (min(w, h) if spec.crop == "center" else max(w, h))
        image.draft(mode, (max(1, round(w * scale)), max(1, round(h * scale))))
        image = ImageOps.exif_transpose(image).convert(mode)
        resample = Image.Resampling.BILINEAR  # antialiased, as torchvision resizes
        if spec.crop == "center":
            image = ImageOps.fit(image, (size, size), resample)
        else:
            image = ImageOps.pad(image, (size, size), resample, color=0)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
