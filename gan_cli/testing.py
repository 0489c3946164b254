"""Small data sets in the official formats, written from random pixels (or from a
pattern per class), for tests and benchmarks on machines without the real data:
MNIST's IDX files and CIFAR-10's pickled batches, read back by gan-cli's own loaders
(gan_cli.data.formats, gan_cli.data.official). Nothing of gan-train or gan-sample uses it.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file as MNIST ships it, gzipped: magic (0, 0, type 0x08 = ubyte, ndim),
    big-endian int32 dimensions, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_mnist(
    root: Path,
    n_train: int = 30,
    n_test: int = 20,
    folder: str = "MNIST",
    patterns: bool = False,
    digits: bool = False,
) -> np.ndarray:
    """<folder>/raw/{train,t10k}-{images,labels}-*.gz under root (MNIST's layout, and
    Fashion-MNIST's with folder="FashionMNIST"); returns the train images. Pixels are
    random; with `patterns`, each image is its class's pattern (class_pattern) under
    faint noise, so a classifier can learn the labels; with `digits`, each is its
    label drawn as a digit (digit_image), MNIST-like."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images[split] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        if patterns:
            noise = images[split] // 4
            images[split] = np.maximum(noise, np.stack([class_pattern(c) for c in labels]))
        if digits:
            images[split] = np.stack([digit_image(c, rng) for c in labels])
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", images[split])
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", labels)
    return images["train"]


def class_pattern(label: int) -> np.ndarray:
    """A 28x28 uint8 picture of class `label` (0..9): a bright bar, horizontal for even
    classes and vertical for odd ones, at a place of its own."""
    image = np.zeros((28, 28), dtype=np.uint8)
    start = 3 + 4 * (label // 2)
    if label % 2 == 0:
        image[start : start + 3, 2:26] = 255
    else:
        image[2:26, start : start + 3] = 255
    return image


def digit_image(label: int, rng: np.random.Generator) -> np.ndarray:
    """A 28x28 uint8 picture of the digit `label`, white on black like MNIST's: Pillow's
    own font at a random size, stroke, offset and slant, so each class varies."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=int(rng.integers(18, 25)))
    image = Image.new("L", (28, 28))
    dx, dy = rng.integers(-2, 3, 2)
    stroke = int(rng.integers(0, 2))
    ImageDraw.Draw(image).text(
        (14 + dx, 14 + dy),
        str(label),
        fill=255,
        font=font,
        anchor="mm",
        stroke_width=stroke,
        stroke_fill=255,
    )
    angle = float(rng.uniform(-15, 15))
    return np.asarray(image.rotate(angle, resample=Image.Resampling.BILINEAR))


def write_cifar10(root: Path, n_per_batch: int = 6, n_test: int = 20) -> np.ndarray:
    """The python version of CIFAR-10: pickled dicts with 'data' (N, 3072) rows of R, G, B
    planes and 'labels', in cifar-10-batches-py/, plus batches.meta."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = {f"data_batch_{i}": n_per_batch for i in range(1, 6)} | {"test_batch": n_test}
    first = None
    for name, n in batches.items():
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        first = data if first is None else first
        entry = {"batch_label": name, "data": data, "labels": rng.integers(0, 10, n).tolist()}
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
    meta = {"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": n_per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return first


# --- reading, with one clear line for a file that is there but wrong -------------------------
