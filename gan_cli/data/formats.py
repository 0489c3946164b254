"""The official file formats of MNIST (IDX files, gzipped or not) and CIFAR-10 (pickled
python batches): strict readers, which answer a file that is there but wrong with one
line naming it and what was expected, and never run what a pickle asks for; and
writers of small sets from random pixels, for tests and benchmarks on machines without
the real data."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

from gan_cli.core.errors import UserError, one_line


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

IDX_UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes with `ndim` dimensions (gzipped or not) -> array.
    Anything else (another magic number, a header that does not match the file's length)
    is a UserError naming the file."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # a truncated or corrupt gzip
        raise _bad(path, f"unreadable ({one_line(e)})", "an IDX file as MNIST ships it") from e
    what = f"an IDX file of unsigned bytes with {ndim} dimensions"
    if len(raw) < 4 + 4 * ndim or raw[:3] != bytes([0, 0, IDX_UBYTE]) or raw[3] != ndim:
        raise _bad(path, f"its header is {raw[:4].hex() or 'empty'}", what)
    shape = struct.unpack(f">{ndim}i", raw[4 : 4 + 4 * ndim])
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(shape)):
        raise _bad(path, f"{len(body)} bytes after the header for a shape {shape}", what)
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


class _Refused(pickle.UnpicklingError):
    pass


class _OfficialUnpickler(pickle.Unpickler):
    """Admits only what CIFAR-10's python batches hold: dicts, lists, strings, bytes and
    numpy arrays. Any other global (a function to call, a class to build) is refused,
    so a booby-trapped file in a data folder never runs code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol 2 writes bytes
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise _Refused(f"it names {module}.{name}, which CIFAR-10 never does")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, list[int]]:
    """One pickled CIFAR-10 batch -> (images (N, 3, 32, 32) uint8, labels (N,))."""
    what = "a pickled dict with 'data' (N x 3072 bytes) and 'labels' (N integers)"
    entry = _unpickle(path, what)
    data, labels = entry.get("data"), entry.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise _bad(path, "no 'data' array of bytes", what)
    if data.shape[1] != 3072 or not isinstance(labels, list) or len(labels) != len(data):
        raise _bad(path, f"'data' of shape {data.shape} with {len(labels or [])} labels", what)
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar_meta(path: Path) -> list[str]:
    """batches.meta -> the 10 class names."""
    what = "a pickled dict with 'label_names' (10 strings)"
    names = _unpickle(path, what).get("label_names")
    if not isinstance(names, list) or len(names) != 10:
        raise _bad(path, "no list of 10 'label_names'", what)
    return [str(n) for n in names]


def _unpickle(path: Path, what: str) -> dict:
    try:
        with open(path, "rb") as f:
            entry = _OfficialUnpickler(f, encoding="latin1").load()
    except _Refused as e:
        raise _bad(path, f"refused: {one_line(e)}; nothing in it ran", what) from e
    except Exception as e:  # truncated, not a pickle at all
        raise _bad(path, "not a readable pickle (truncated or another kind of file)", what) from e
    if not isinstance(entry, dict):
        raise _bad(path, f"a pickled {type(entry).__name__}", what)
    return entry


def _bad(path: Path, found: str, expected: str) -> UserError:
    return UserError(f"{path}: {found}; expected {expected}")
