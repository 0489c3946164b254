"""Small data sets in the official file formats, written from random pixels: MNIST's
gzipped IDX files and CIFAR-10's python pickles. For tests and benchmarks on machines
without the real data (the real loaders read them as they read the originals)."""

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


def write_mnist(root: Path, n_train: int = 30, n_test: int = 20) -> np.ndarray:
    """MNIST/raw/{train,t10k}-{images,labels}-*.gz under root; returns the train images."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images[split] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", images[split])
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8))
    return images["train"]


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
