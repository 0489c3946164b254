"""Checkpoints: state_dicts, the step and the resolved config as plain data.

Written to a temporary file in the same folder, flushed to disk and renamed over the
target, so a crash or a kill at any moment leaves either the old or the new file,
never a half-written one. Read back with `torch.load(weights_only=True)`: a
checkpoint cannot run code on load.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Atomically write `state` (tensors, state_dicts and plain data only) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
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


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint; refuses pickled objects beyond plain data."""
    with warnings.catch_warnings():  # a refused file gets an error, not a warning as well
        warnings.simplefilter("ignore", UserWarning)
        return torch.load(path, map_location=map_location, weights_only=True)
