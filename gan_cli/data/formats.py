"""The official file formats of MNIST (IDX files, gzipped or not) and CIFAR-10 (pickled
python batches): strict readers, which answer a file that is there but wrong with one
line naming it and what was expected, and never run what a pickle asks for (their
writers, for tests and benchmarks, are in gan_cli.testing)."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

from gan_cli.core.errors import UserError, one_line

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
