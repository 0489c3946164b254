"""An image folder packed once: every image decoded, in parallel over the cores, at the
training resolution into one file that every later run opens memory-mapped.

A pack is a folder in the cache (data.cache_dir; by default <user cache>/gan-cli/packed):

    images.u8      N x C x S x S bytes (uint8), the images in a fixed shuffled order
    labels.npy     N class indices (int64), for a labelled folder
    manifest.json  what the pack was made from: every source file's relative path, size
                   and modification time, the labels file's, the resolution, the
                   channels and the crop; the images skipped as unreadable

A pack is complete when its manifest is there and images.u8 holds exactly the bytes the
manifest states. Packing writes into a temporary folder, flushes it to disk and renames
it into place, so a kill or a full disk at any moment never leaves a pack that reads as
complete; a pack found cut short is packed again. A pack is fresh when the folder still
holds the same image files with the same sizes and times (and the same labels file); a
folder that changed is packed again. One process packs a folder at a time (a file lock):
the jobs of a sweep and the ranks of a distributed run that start together wait for the
first one's pack, then open it.

No torch here: the processes that decode run only PIL and numpy.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import mmap
import multiprocessing
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from gan_cli.core.atomic import atomic_write
from gan_cli.core.cache import user_cache
from gan_cli.core.console import phase
from gan_cli.core.errors import UserError
from gan_cli.data import image_files
from gan_cli.data.image_files import (
    SourceFile,
    Spec,
    class_folders,
    labels_file,
    labels_from_file,
    list_images,
    unreadable,
)

log = logging.getLogger(__name__)

FORMAT = 1  # the pack layout's version: a pack of another is packed again
CHUNK = 32  # images a decoding process takes at a time
PARALLEL_FROM = 128  # fewer images are decoded in this process: starting workers costs more
SHUFFLE_SEED = 0  # the pack's fixed order (its first images are the held-out ones)


def _decode_rows(job: tuple[str, str, int, list[str], Spec]) -> list[str | None]:
    """Decode files into consecutive rows of the pack file, from row `first` on (each
    process writes its own rows: no pixels travel between processes); for each file,
    None, or why it cannot be read."""
    folder, out, first, paths, spec = job
    row_bytes = spec.channels * spec.image_size**2
    errors: list[str | None] = []
    fd = os.open(out, os.O_WRONLY)
    try:
        for row, rel in enumerate(paths, first):
            try:
                pixels = image_files.decode(os.path.join(folder, rel), spec)
            except Exception as e:  # noqa: BLE001 (any failure of any codec names the file)
                errors.append(f"{type(e).__name__}: {e}".strip())
                continue
            os.pwrite(fd, pixels.tobytes(), row * row_bytes)
            errors.append(None)
    finally:
        os.close(fd)
    return errors


def _decode_into(out: Path, folder: Path, paths: list[str], spec: Spec) -> Iterator[str | None]:
    """Decode file i into row i of `out` (already its full size), over a process per
    core for a large folder; yields None or the failure of each file, in order."""
    jobs = [
        (str(folder), str(out), i, paths[i : i + CHUNK], spec) for i in range(0, len(paths), CHUNK)
    ]
    workers = min(_cores(), len(jobs))
    if len(paths) < PARALLEL_FROM or workers < 2:
        for job in jobs:
            yield from _decode_rows(job)
        return
    # fork, as torch's DataLoader: a worker starts at once, and runs only PIL and numpy
    # (spawn would run the caller's main script again in each worker)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for chunk in pool.imap(_decode_rows, jobs):
            yield from chunk


def _compact(out: Path, bad: set[int], n: int, row_bytes: int) -> None:
    """Close the gaps the unreadable files left: every good row moved down, in order."""
    with open(out, "r+b") as f:
        kept = 0
        for row in range(n):
            if row in bad:
                continue
            if kept != row:
                f.seek(row * row_bytes)
                pixels = f.read(row_bytes)
                f.seek(kept * row_bytes)
                f.write(pixels)
            kept += 1
        f.truncate(kept * row_bytes)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# --- a pack ---------------------------------------------------------------------------


class Pack:
    """A complete pack, open: `images` (N, C, S, S) uint8 read from the file as they are
    used (a memory map: the set may be larger than memory), `labels` (N,) int64 or None,
    `classes` their names, `manifest` what it was made from, `folder` where it lies."""

    packed_now = False  # True when this process packed it

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder, self.manifest = folder, manifest
        n, c, s = manifest["count"], manifest["channels"], manifest["image_size"]
        with open(folder / "images.u8", "rb") as f:
            # a private copy-on-write map: writable for torch, never written back
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        self._map.madvise(mmap.MADV_RANDOM)  # batches read scattered images, no read-ahead
        self.images = np.frombuffer(self._map, dtype=np.uint8).reshape(n, c, s, s)
        self.classes = manifest["classes"]
        self.labels = np.load(folder / "labels.npy") if self.classes is not None else None

    @property
    def skipped(self) -> list[list[str]]:
        """[path, why] of each image left out as unreadable."""
        return self.manifest["skipped"]

    def release(self) -> None:
        """Hand the pages read so far back to the system (they stay in its file cache):
        what keeps the process's resident memory bounded while it reads a set larger
        than memory."""
        self._map.madvise(mmap.MADV_DONTNEED)


def pack_name(folder: Path, spec: Spec, labels: str | None) -> str:
    """The pack's folder name: readable, and unique to the folder, the labels file and
    the spec."""
    key = json.dumps([str(folder.resolve()), labels and str(Path(labels).resolve()), asdict(spec)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", folder.resolve().name) or "folder"
    return f"{safe}-{spec.image_size}px-{spec.channels}ch-{spec.crop}-{digest}"


def cache_root(cache_dir: str | None) -> Path:
    return (Path(cache_dir) if cache_dir else user_cache() / "packed").resolve()


def open_or_pack(
    path: str,
    spec: Spec,
    cache_dir: str | None = None,
    labels: str | None = None,
    skip_bad: bool = False,
) -> Pack:
    """The folder's pack, fresh and complete: opened if there is one, else packed first."""
    folder = Path(path)
    files = list_images(path)
    sources = _sources(folder, files, labels)
    root = cache_root(cache_dir)
    name = pack_name(folder, spec, labels)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root / f"{name}.lock"):
            where = root / name
            manifest = _complete(where, spec, sources)
            packed_now = manifest is None
            if packed_now:
                manifest = _pack(folder, files, labels, spec, root, name, sources, skip_bad)
            pack = Pack(where, manifest)
            pack.packed_now = packed_now
    except OSError as e:
        raise UserError(
            f"cannot pack {path} into {root}: {e.strerror or e}; free space there or set "
            "data.cache_dir=DIR"
        ) from e
    _report_skipped(pack, path, skip_bad)
    return pack


def _sources(folder: Path, files: list[SourceFile], labels: str | None) -> dict[str, Any]:
    """What a pack is made from, as its manifest records it: is the pack fresh?"""
    label_file = None
    if labels is not None:
        path = labels_file(labels)
        stat = path.stat()
        label_file = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    return {
        "folder": str(folder.resolve()),
        "files": [[f.path, f.size, f.mtime_ns] for f in files],
        "labels_file": label_file,
    }


def _complete(where: Path, spec: Spec, sources: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of a complete, fresh pack at `where`, else None (after saying why
    a pack that is there is not used)."""
    try:
        manifest = json.loads((where / "manifest.json").read_text())
    except (OSError, ValueError):
        return None  # never finished (or never started)
    expected = {"format": FORMAT, **asdict(spec), **sources}
    if any(manifest.get(k) != v for k, v in expected.items()):
        log.info("%s changed since it was packed: packing it again", sources["folder"])
        return None
    size = manifest["count"] * manifest["channels"] * manifest["image_size"] ** 2
    held = (where / "images.u8").stat().st_size if (where / "images.u8").exists() else -1
    labelled = manifest["classes"] is None or (where / "labels.npy").is_file()
    if held != size or not labelled:
        log.warning("the pack %s is incomplete (%d of %d bytes): packing again", where, held, size)
        return None
    return manifest


def _pack(
    folder: Path,
    files: list[SourceFile],
    labels: str | None,
    spec: Spec,
    root: Path,
    name: str,
    sources: dict[str, Any],
    skip_bad: bool,
) -> dict[str, Any]:
    """Decode the folder into root/name, whole or not at all; its manifest."""
    for stale in [*root.glob(f"{name}.tmp-*"), *root.glob(f"{name}.old-*")]:
        shutil.rmtree(stale, ignore_errors=True)  # packers killed earlier (we hold the lock)
    classes = labels_from_file(labels, files) if labels else class_folders(files)
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(files))
    tmp = root / f"{name}.tmp-{os.getpid()}"
    tmp.mkdir()
    start = time.perf_counter()
    kept, skipped, bad_rows = [], [], set()
    row_bytes = spec.channels * spec.image_size**2
    out = tmp / "images.u8"
    try:
        with open(out, "wb") as f:
            f.truncate(len(files) * row_bytes)
        paths = [files[i].path for i in order]
        with phase(f"packing {folder}", len(paths), "images") as done:
            decoded = _decode_into(out, folder, paths, spec)
            for row, (i, error) in enumerate(zip(order, decoded, strict=True)):
                if error is None:
                    kept.append(i)
                elif skip_bad:
                    skipped.append([files[i].path, error])
                    bad_rows.add(row)
                else:
                    raise unreadable(folder / files[i].path, error)
                done(1)
        if bad_rows:
            _compact(out, bad_rows, len(files), row_bytes)
        with open(out, "rb+") as f:
            os.fsync(f.fileno())
        if len(kept) < 2:
            raise UserError(f"data.path={folder}: {len(kept)} readable images, need at least 2")
        if classes is not None:
            with atomic_write(tmp / "labels.npy") as f:
                np.save(f, classes[1][kept])
        manifest = {
            "format": FORMAT,
            **asdict(spec),
            **sources,
            "count": len(kept),
            "classes": None if classes is None else list(classes[0]),
            "skipped": skipped,
            "seconds": round(time.perf_counter() - start, 3),
        }
        with atomic_write(tmp / "manifest.json", "w") as f:  # last: the pack is complete
            json.dump(manifest, f)
        where = root / name
        if where.exists():  # an old or broken pack: out of the way, then gone
            old = root / f"{name}.old-{os.getpid()}"
            where.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(where)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    gib = len(kept) * spec.channels * spec.image_size**2 / 2**30
    log.info(
        "packed %d images of %s (%.2f GiB) in %.1f s -> %s",
        len(kept),
        folder,
        gib,
        manifest["seconds"],
        where,
    )
    return manifest


def _report_skipped(pack: Pack, path: str, skip_bad: bool) -> None:
    if not pack.skipped:
        return
    first, why = pack.skipped[0]
    if not skip_bad:  # packed by a run that skipped them; this one asks to be told
        raise unreadable(Path(path) / first, why)
    log.warning(
        "skipped %d unreadable images of %s (first: %s: %s); all listed in %s",
        len(pack.skipped),
        path,
        first,
        why,
        pack.folder / "manifest.json",
    )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time past this point, for this lock file."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
