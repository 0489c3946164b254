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

import csv
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gan_cli.core.atomic import atomic_write
from gan_cli.core.cache import user_cache
from gan_cli.core.console import phase
from gan_cli.core.errors import UserError

log = logging.getLogger(__name__)

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
CROPS = ("center", "pad")
FORMAT = 1  # the pack layout's version: a pack of another is packed again
CHUNK = 32  # images a decoding process takes at a time
PARALLEL_FROM = 128  # fewer images are decoded in this process: starting workers costs more
SHUFFLE_SEED = 0  # the pack's fixed order (its first images are the held-out ones)


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
    path = Path(labels)
    if not path.is_file():
        raise UserError(f"data.labels={labels}: no such file (a CSV file,label or a dataset.json)")
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
                pixels = decode(os.path.join(folder, rel), spec)
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
        stat = Path(labels).stat()
        label_file = [str(Path(labels).resolve()), stat.st_size, stat.st_mtime_ns]
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
    for stale in root.glob(f"{name}.tmp-*"):  # packers killed earlier (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    classes = labels_from_file(labels, files) if labels else class_folders(files)
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(files))
    tmp = root / f"{name}.tmp-{os.getpid()}"
    tmp.mkdir()
    start = time.perf_counter()
    kept, skipped = [], []
    row_bytes = spec.channels * spec.image_size**2
    out = tmp / "images.u8"
    try:
        with open(out, "wb") as f:
            f.truncate(len(files) * row_bytes)
        paths = [files[i].path for i in order]
        with phase(f"packing {folder}", len(paths), "images") as done:
            for i, error in zip(order, _decode_into(out, folder, paths, spec), strict=True):
                if error is None:
                    kept.append(i)
                elif skip_bad:
                    skipped.append([files[i].path, error])
                else:
                    raise UserError(
                        f"{folder / files[i].path} cannot be read ({error}): remove it, "
                        "or set data.skip_bad=true to leave unreadable images out"
                    )
                done(1)
        if skipped:
            unreadable = {path for path, _ in skipped}
            bad = {row for row, i in enumerate(order) if files[i].path in unreadable}
            _compact(out, bad, len(files), row_bytes)
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
        raise UserError(
            f"{Path(path) / first} cannot be read ({why}): remove it, or set "
            "data.skip_bad=true to leave unreadable images out"
        )
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
