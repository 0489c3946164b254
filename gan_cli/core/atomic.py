"""Files that must never be half-written: checkpoints, samples.npz, status.json, a
rewritten metrics.jsonl.

`atomic_write` writes to a temporary file in the target's folder, flushes it to disk
and renames it over the target, so a crash, a kill or a full disk at any moment leaves
either the old file or the new one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

TMP_SUFFIX = ".tmp"


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """`with atomic_write(path) as f: ...` writes `path` whole or not at all (`mode` is
    "wb" or "w")."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # as open() makes it; mkstemp's is 0600
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)  # make the rename itself durable
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)  # (reading the umask means setting it: set it straight back)
    os.umask(mask)
    return mask


def remove_partial_writes(folder: str | Path, pattern: str = "*") -> None:
    """Remove the temporary files a writer killed mid-write left behind in `folder`."""
    for path in Path(folder).glob(f".{pattern}.*{TMP_SUFFIX}"):
        path.unlink(missing_ok=True)
