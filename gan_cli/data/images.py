"""Image data: MNIST, CIFAR-10 and any folder of images.

Each data set is decoded once into one uint8 tensor (N, C, H, W), kept on the training
device when it fits; a batch is drawn by random indices and scaled to [-1, 1] on the
fly, so no per-image PIL transform runs in the training loop. Memory: MNIST 60,000 x
1 x 32 x 32 bytes = 61 MB; CIFAR-10 50,000 x 3 x 32 x 32 = 154 MB; a folder N x C x S x S.

MNIST and CIFAR-10 are read by torchvision's dataset classes from their official files
under `root`. The files' md5 sums guard downloads only: a subset or a repacked copy in
the official format loads too.
"""

from __future__ import annotations

import hashlib
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import Tensor

from gan_cli.core.console import phase
from gan_cli.core.errors import UserError
from gan_cli.core.params import POSITIVE_INT, Annotated, Check, OneOf, at_least
from gan_cli.data import augment as aug
from gan_cli.data import formats
from gan_cli.data.base import IMAGES, DataSource, Labels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
BATCH = Annotated[int, POSITIVE_INT]
HELDOUT = Annotated[int, at_least(2, "an integer")]
# what every image source takes besides its files (see ImageData)
AUGMENT = Annotated[str, Check(aug.valid, aug.ALLOWED)]
TARGET = Annotated[Optional[float], Check(lambda v: -1 <= v <= 1, "null or a number in [-1, 1]")]  # noqa: UP045
FRACTION = Annotated[float, Check(lambda v: 0 < v <= 1, "a number in (0, 1]")]


class ImageData(DataSource):
    """Batches (batch_size, C, H, W) in [-1, 1] drawn from uint8 images in memory.

    `train` (uint8, host memory) are all training images and `images` this rank's part
    of them, on the training device; `test` (uint8) are real images never trained on, and
    the first `heldout_size` of them, in [-1, 1], are `heldout`, for the held-out
    estimates. Labelled data has `labels` (aligned with `train` and `test`), and a folder
    `cache_dir` where what is learnt from the data once (gan_cli.metrics.domain_classifier) is kept.

    Every image source also takes:
    - `fraction`: train on this fraction of the training split only, drawn once from the
      seed (the data-efficiency setting of DiffAugment and ADA); `train`, and so the
      domain classifier, the metrics and their floor, stay the whole split;
    - `augment`, `augment_target`: what the critic sees (gan_cli.data.augment), which
      the training step reads from here.
    """

    kind = IMAGES
    cache_dir: Path
    digits: ImageData | None = None  # stacked data: the digits each channel holds

    def __init__(
        self,
        train: Tensor,
        test: Tensor,
        heldout_size: int,
        batch_size: int,
        seed: int,
        device: str | torch.device,
        labels: Labels | None = None,
        fraction: float = 1.0,
        augment: str = "",
        augment_target: float | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.shape = tuple(train.shape[1:])
        self.train, self.labels = train, labels
        self.fraction = fraction
        self.augment, self.augment_target = aug.parse(augment), augment_target
        used = train
        targets = None if labels is None else labels.train
        if fraction < 1:  # a fixed subset, the same for every run of this seed
            keep = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
            keep = keep[: max(1, round(fraction * len(train)))].sort().values
            used = train[keep]
            targets = None if targets is None else targets[keep]
        try:
            self.images = used.to(self.device)
        except torch.OutOfMemoryError:  # keep it in host memory; batches move on the fly
            self.images = used.pin_memory() if self.device.type == "cuda" else used
        # this rank's labels, beside `images` on their device
        self.targets = None if targets is None else targets.to(self.images.device)
        self._gen = torch.Generator(device=self.images.device).manual_seed(seed)
        self.test = test
        self.heldout = to_unit_range(test[:heldout_size].to(self.device))

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the training images (shape and bytes) and their labels, computed once:
        what anything learnt from this data (gan_cli.metrics.domain_classifier) is keyed by."""
        h = hashlib.sha256(str(tuple(self.train.shape)).encode())
        h.update(self.train.contiguous().numpy().tobytes())
        if self.labels is not None:
            h.update(self.labels.train.numpy().tobytes())
        return h.hexdigest()

    def sample(self) -> Tensor:
        return self.sample_labelled()[0]

    def sample_labelled(self) -> tuple[Tensor, Tensor | None]:
        """A training batch and its labels (batch_size,) int64 (None for unlabelled data),
        from the same random indices as `sample`: the stream is the same either way."""
        if self.weights is not None:  # AdaGAN: examples by their weights
            idx = self.weighted(self.batch_size)
        else:
            idx = torch.randint(
                len(self.images), (self.batch_size,), generator=self._gen, device=self.images.device
            )
        x = to_unit_range(self.images[idx].to(self.device, non_blocking=True))
        return x, None if self.targets is None else self.targets[idx].to(self.device)

    def examples(self) -> Tensor:
        """This rank's training images (N, *shape) in [-1, 1], on their device."""
        return to_unit_range(self.images)

    @property
    def n_examples(self) -> int:
        return len(self.images)

    @property
    def heldout_labels(self) -> Tensor | None:
        """The labels (N,) of `heldout`, on its device; None for unlabelled data."""
        if self.labels is None:
            return None
        return self.labels.test[: len(self.heldout)].to(self.heldout.device)

    def shard(self, rank: int, size: int) -> None:
        super().shard(rank, size)
        self.images = self.images[rank::size]
        if self.targets is not None:
            self.targets = self.targets[rank::size]

    def reference(self, split: str) -> Tensor:
        """All real images of a split, uint8: `train` or `test` (the held-out images)."""
        return {"train": self.images, "test": self.test}[split]


def to_unit_range(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float() / 127.5 - 1


# --- MNIST ---------------------------------------------------------------------------------


def _idx_files(base: type, folder: str) -> type:
    """torchvision's MNIST-like data set `base`, for its download, with its files in
    <root>/<folder>/raw (torchvision names the folder after the class); gan-cli reads
    the files itself (formats.read_idx)."""

    class Files(base):
        raw_folder = property(lambda self: str(Path(self.root) / folder / "raw"))

        def _check_exists(self) -> bool:
            return _mnist_ready(Path(self.root) / folder)

    return Files


_MNISTFiles = _idx_files(torchvision.datasets.MNIST, "MNIST")
_FashionMNISTFiles = _idx_files(torchvision.datasets.FashionMNIST, "FashionMNIST")


def _mnist_ready(folder: Path) -> bool:
    """Whether the four MNIST files are in `folder`/raw, gzipped or unpacked."""
    return all(_mnist_file(folder, Path(url).stem) for url, _ in _MNISTFiles.resources)


def _mnist_file(folder: Path, name: str) -> Path | None:
    """`folder`/raw/name, unpacked or as distributed (name.gz), or None."""
    raw = folder / "raw"
    return next((p for p in (raw / name, raw / f"{name}.gz") if p.is_file()), None)


class _Official(ImageData):
    """A torchvision data set read from its official files under `root`; subclasses name
    the files (`ready`, `needed`), the sample shape and how to read both splits (`load`)."""

    name: str
    files: type  # torchvision's data set class that reads (and downloads) the files
    folder: str  # under root
    shape_: tuple[int, ...]
    needed: str  # the files, for the message when they are missing
    inside: str  # the subfolder of `folder` that holds them

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        batch_size: BATCH = 64,
        heldout_size: HELDOUT = 2000,
        seed: int = 0,
        device: str | torch.device = "cpu",
        fraction: FRACTION = 1.0,
        augment: AUGMENT = "",
        augment_target: TARGET = None,
    ) -> None:
        self.prepare(root, download)
        train, test, labels = self.load(root)
        super().__init__(
            train,
            test,
            heldout_size,
            batch_size,
            seed,
            device,
            labels,
            fraction,
            augment,
            augment_target,
        )
        self.cache_dir = Path(root) / self.folder

    @classmethod
    def sample_shape(cls, **_: Any) -> tuple[int, ...]:
        return cls.shape_

    @classmethod
    def prepare(cls, root: str, download: bool, **_: Any) -> None:
        """The files in place, downloaded when missing and allowed, or one clear line."""
        where = Path(root) / cls.folder

        def ready() -> bool:
            if download and not cls.ready(where):
                cls.fetch(root)
            return cls.ready(where)

        how = (
            f"put {cls.needed} in {where}/{cls.inside}, or set data.root to the folder "
            f"that holds {cls.folder}/{cls.inside}"
        )
        _fetch(ready, root, cls.folder, download, how, cls.name)

    @staticmethod
    def ready(where: Path) -> bool:
        raise NotImplementedError

    @classmethod
    def fetch(cls, root: str) -> None:
        cls.files(root, download=True)  # torchvision's download

    @staticmethod
    def load(root: str) -> tuple[Tensor, Tensor, Labels]:
        """(train, test) uint8 (N, C, H, W), and their labels."""
        raise NotImplementedError


class MNIST(_Official):
    """MNIST digits, zero-padded from 28x28 to 32x32 (1 channel) for the conv models.

    Files: <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
    """

    name, folder, shape_ = "MNIST", "MNIST", (1, 32, 32)
    classes = tuple("0123456789")
    files, ready = _MNISTFiles, staticmethod(_mnist_ready)
    inside, needed = (
        "raw/",
        (
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
            "and t10k-labels-idx1-ubyte.gz (as distributed)"
        ),
    )

    @classmethod
    def load(cls, root: str) -> tuple[Tensor, Tensor, Labels]:
        folder, splits, targets = Path(root) / cls.folder, [], []
        for split in ("train", "t10k"):
            images_file = _mnist_file(folder, f"{split}-images-idx3-ubyte")
            images = formats.read_idx(images_file, ndim=3)
            labels = formats.read_idx(_mnist_file(folder, f"{split}-labels-idx1-ubyte"), ndim=1)
            if images.shape[1:] != (28, 28) or len(labels) != len(images):
                raise UserError(
                    f"{images_file}: {images.shape} images with {len(labels)} labels; "
                    "expected N 28x28 images and as many labels"
                )
            pad = (2, 2, 2, 2)  # 28 -> 32: the digits keep their size and their border
            splits.append(F.pad(torch.from_numpy(images.copy()), pad)[:, None])
            targets.append(_labels(labels, len(cls.classes), images_file))
        return splits[0], splits[1], Labels(*targets, names=cls.classes)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Xiao et al. 2017): 28x28 grayscale pictures of 10 kinds of clothing,
    in MNIST's files and sizes; zero-padded to 32x32 like MNIST.

    Files: <root>/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
    """

    name, folder, files = "Fashion-MNIST", "FashionMNIST", _FashionMNISTFiles
    classes = tuple(torchvision.datasets.FashionMNIST.classes)


# --- CIFAR-10 ------------------------------------------------------------------------------


class _CIFAR10Files(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR-10 with the md5 sums kept for the download archive only."""

    train_list = [[name, None] for name, _ in torchvision.datasets.CIFAR10.train_list]
    test_list = [[name, None] for name, _ in torchvision.datasets.CIFAR10.test_list]
    meta = {**torchvision.datasets.CIFAR10.meta, "md5": None}

    def _check_integrity(self) -> bool:
        return _cifar_ready(Path(self.root) / self.base_folder)


def _cifar_ready(folder: Path) -> bool:
    names = [n for n, _ in _CIFAR10Files.train_list + _CIFAR10Files.test_list]
    return all((folder / n).is_file() for n in [*names, _CIFAR10Files.meta["filename"]])


class CIFAR10(_Official):
    """CIFAR-10, 50,000 training images 3x32x32; held-out images from test_batch.

    Files: <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}.
    """

    name, folder, shape_ = "CIFAR-10", "cifar-10-batches-py", (3, 32, 32)
    files, ready = _CIFAR10Files, staticmethod(_cifar_ready)
    inside = ""
    needed = "data_batch_1 .. data_batch_5, test_batch and batches.meta (unpacked python version)"

    @staticmethod
    def load(root: str) -> tuple[Tensor, Tensor, Labels]:
        folder = Path(root) / "cifar-10-batches-py"
        meta = folder / _CIFAR10Files.meta["filename"]
        names = tuple(formats.read_cifar_meta(meta))
        splits, targets = [], []
        for files in (_CIFAR10Files.train_list, _CIFAR10Files.test_list):
            batches = [formats.read_cifar_batch(folder / name) for name, _ in files]
            splits.append(torch.from_numpy(np.concatenate([images for images, _ in batches])))
            labels = np.concatenate([np.asarray(labels) for _, labels in batches])
            targets.append(_labels(labels, len(names), folder / files[0][0]))
        return splits[0], splits[1], Labels(*targets, names=names)


def _labels(labels: np.ndarray, n_classes: int, path: Path) -> Tensor:
    """Class indices (N,) int64, or one line naming the file when one is out of range."""
    labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    if len(labels) and not (0 <= int(labels.min()) and int(labels.max()) < n_classes):
        raise UserError(
            f"{path}: labels from {int(labels.min())} to {int(labels.max())}; "
            f"expected 0..{n_classes - 1}"
        )
    return labels


def _fetch(ready, root: str, folder: str, download: bool, how: str, name: str) -> None:
    """Run `ready()` (which downloads when allowed). On failure remove what it created
    under `root` (its new entries, and new files in `root/folder`) and raise one line
    that says where the files go."""
    top, sub = Path(root), Path(root) / folder

    def entries() -> set[Path]:
        return {top} | set(top.glob("*")) | set(sub.rglob("*")) if top.exists() else set()

    before = entries()
    try:
        if ready():
            return
        reason = "not found"
    except Exception as e:  # torchvision raises RuntimeError, URLError, OSError, ...
        what = "not found, and the download failed" if download else "unreadable"
        reason = f"{what} ({type(e).__name__}: {_first_line(e)})"
    for path in sorted(entries() - before, key=lambda p: -len(p.parts)):
        if path.exists():  # leave nothing half-downloaded behind
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    hint = "" if download else "data.download=false; "
    raise UserError(f"{name} {reason} under {top.resolve()}: {hint}{how}")


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0][:120]


# --- a folder of images --------------------------------------------------------------------


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
    """(class names, one label a file) when every file lies in one of two or more
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


# --- Stacked MNIST -------------------------------------------------------------------------


class StackedMNIST(ImageData):
    """Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): three digits drawn independently
    as the red, green and blue channels of a 3x32x32 image, so 1,000 modes (class
    100 a + 10 b + c). `n_train` training stacks from MNIST's training digits (128,000 in
    the PacGAN code) and one test stack per test digit, drawn once with a fixed seed:
    every run trains on the same data set.

    `base` is the data set the digits come from: mnist, or fashion_mnist, whose ten kinds
    of clothing stand in for digits where only it is at hand. Its domain classifier
    reads each channel (gan_cli.metrics.stacked).
    """

    STACKS_SEED = 2017

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        base: Annotated[str, OneOf(("mnist", "fashion_mnist"))] = "mnist",
        n_train: Annotated[int, POSITIVE_INT] = 128_000,
        batch_size: BATCH = 64,
        heldout_size: HELDOUT = 2000,
        seed: int = 0,
        device: str | torch.device = "cpu",
        fraction: FRACTION = 1.0,
        augment: AUGMENT = "",
        augment_target: TARGET = None,
    ) -> None:
        digits = STACKED_BASES[base](root, download, batch_size, heldout_size, seed, "cpu")
        gen = torch.Generator().manual_seed(self.STACKS_SEED)
        train_idx = torch.randint(len(digits.train), (n_train, 3), generator=gen)
        test_idx = torch.randint(len(digits.test), (len(digits.test), 3), generator=gen)
        d = digits.labels
        labels = Labels(
            _stack_label(d.train[train_idx]),
            _stack_label(d.test[test_idx]),
            tuple(f"{i:03d}" for i in range(1000)),
        )
        train, test = _stack(digits.train, train_idx), _stack(digits.test, test_idx)
        super().__init__(
            train,
            test,
            heldout_size,
            batch_size,
            seed,
            device,
            labels,
            fraction,
            augment,
            augment_target,
        )
        self.digits, self.cache_dir = digits, digits.cache_dir

    @classmethod
    def sample_shape(cls, **_: Any) -> tuple[int, ...]:
        return (3, 32, 32)

    @staticmethod
    def prepare(root: str, download: bool, base: str = "mnist", **_: Any) -> None:
        STACKED_BASES[base].prepare(root, download)


STACKED_BASES = {"mnist": MNIST, "fashion_mnist": FashionMNIST}


def _stack(digits: Tensor, idx: Tensor) -> Tensor:
    """uint8 digits (N, 1, H, W) and indices (M, 3) -> (M, 3, H, W), one digit a channel."""
    return digits[:, 0][idx]


def _stack_label(labels: Tensor) -> Tensor:
    """Digit labels (M, 3) -> the stack's class 100 a + 10 b + c (M,)."""
    return labels @ torch.tensor([100, 10, 1])
