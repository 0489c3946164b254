"""MNIST, Fashion-MNIST and CIFAR-10 from their official files under `root`.

gan-cli reads the files itself (IDX and pickled batches, gan_cli.data.formats) and
downloads them with torchvision's public utilities when they are missing and
`download=true`. The files' md5 sums guard downloads only: a subset or a repacked copy in
the official format loads too. A failed download leaves nothing behind, and missing
files get one line that says which files go where.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Unpack
from urllib.error import URLError

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor
from torchvision.datasets.utils import download_and_extract_archive

from gan_cli.core.errors import UserError, one_line
from gan_cli.data import formats
from gan_cli.data.base import Labels
from gan_cli.data.memory import ImageData, Sampling


def _mnist_ready(folder: Path) -> bool:
    """Whether the four MNIST files are in `folder`/raw, gzipped or unpacked."""
    names = [Path(name).stem for name, _ in torchvision.datasets.MNIST.resources]
    return all(_mnist_file(folder, name) for name in names)


def _mnist_file(folder: Path, name: str) -> Path | None:
    """`folder`/raw/name, unpacked or as distributed (name.gz), or None."""
    raw = folder / "raw"
    return next((p for p in (raw / name, raw / f"{name}.gz") if p.is_file()), None)


class OfficialFiles(ImageData):
    """A data set read from its official files under `root` (downloaded with torchvision's
    public download utilities when missing); subclasses name the files (`ready`,
    `missing_files`), the sample shape and how to fetch and read both splits (`fetch`,
    `load`)."""

    name: str
    folder: str  # under root
    image_shape: tuple[int, ...]
    missing_files: str  # the files, for the message when they are missing
    files_folder: str  # the subfolder of `folder` that holds them

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        **sampling: Unpack[Sampling],
    ) -> None:
        self.prepare(root, download)
        train, test, labels = self.load(root)
        super().__init__(train, test, labels, **sampling)
        self.cache_dir = Path(root) / self.folder

    @classmethod
    def sample_shape(cls, **_: Any) -> tuple[int, ...]:
        return cls.image_shape

    @classmethod
    def prepare(cls, root: str, download: bool, **_: Any) -> None:
        """The files in place, downloaded when missing and allowed, or one clear line."""
        where = Path(root) / cls.folder

        def ready() -> bool:
            if download and not cls.ready(where):
                cls.fetch(root)
            return cls.ready(where)

        where_to_put = (
            f"put {cls.missing_files} in {where}/{cls.files_folder}, or set data.root to the "
            f"folder that holds {cls.folder}/{cls.files_folder}"
        )
        _fetch(ready, root, cls.folder, download, where_to_put, cls.name)

    @staticmethod
    def ready(where: Path) -> bool:
        raise NotImplementedError

    @classmethod
    def fetch(cls, root: str) -> None:
        """Download and unpack the files (as torchvision's data set would)."""
        raise NotImplementedError

    @staticmethod
    def load(root: str) -> tuple[Tensor, Tensor, Labels]:
        """(train, test) uint8 (N, C, H, W), and their labels."""
        raise NotImplementedError


class MNIST(OfficialFiles):
    """MNIST digits, zero-padded from 28x28 to 32x32 (1 channel) for the conv models.

    Files: <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
    """

    name, folder, image_shape = "MNIST", "MNIST", (1, 32, 32)
    classes = tuple("0123456789")
    source = torchvision.datasets.MNIST  # its files' names, md5 sums and mirrors
    ready = staticmethod(_mnist_ready)
    files_folder, missing_files = (
        "raw/",
        (
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
            "and t10k-labels-idx1-ubyte.gz (as distributed)"
        ),
    )

    @classmethod
    def fetch(cls, root: str) -> None:
        """Each of the four files from the first mirror that serves it, md5-checked,
        unpacked beside the .gz (torchvision's MNIST download)."""
        raw = Path(root) / cls.folder / "raw"
        for filename, md5 in cls.source.resources:
            for i, mirror in enumerate(cls.source.mirrors):
                try:
                    download_and_extract_archive(
                        f"{mirror}{filename}", str(raw), filename=filename, md5=md5
                    )
                    break
                except URLError:
                    if i == len(cls.source.mirrors) - 1:
                        raise

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

    name, folder = "Fashion-MNIST", "FashionMNIST"
    source = torchvision.datasets.FashionMNIST
    classes = tuple(source.classes)


# --- CIFAR-10 ------------------------------------------------------------------------------


CIFAR10_TRAIN = tuple(name for name, _ in torchvision.datasets.CIFAR10.train_list)
CIFAR10_TEST = tuple(name for name, _ in torchvision.datasets.CIFAR10.test_list)
CIFAR10_META = torchvision.datasets.CIFAR10.meta["filename"]


def _cifar_ready(folder: Path) -> bool:
    """The batches are there; their md5 sums guard the download archive only."""
    return all((folder / n).is_file() for n in (*CIFAR10_TRAIN, *CIFAR10_TEST, CIFAR10_META))


class CIFAR10(OfficialFiles):
    """CIFAR-10, 50,000 training images 3x32x32; held-out images from test_batch.

    Files: <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}.
    """

    name, folder, image_shape = "CIFAR-10", "cifar-10-batches-py", (3, 32, 32)
    ready = staticmethod(_cifar_ready)
    files_folder = ""
    missing_files = (
        "data_batch_1 .. data_batch_5, test_batch and batches.meta (unpacked python version)"
    )

    @classmethod
    def fetch(cls, root: str) -> None:
        """The python version's archive, md5-checked and unpacked (torchvision's download)."""
        source = torchvision.datasets.CIFAR10
        download_and_extract_archive(source.url, root, filename=source.filename, md5=source.tgz_md5)

    @staticmethod
    def load(root: str) -> tuple[Tensor, Tensor, Labels]:
        folder = Path(root) / "cifar-10-batches-py"
        names = tuple(formats.read_cifar_meta(folder / CIFAR10_META))
        splits, targets = [], []
        for files in (CIFAR10_TRAIN, CIFAR10_TEST):
            batches = [formats.read_cifar_batch(folder / name) for name in files]
            splits.append(torch.from_numpy(np.concatenate([images for images, _ in batches])))
            labels = np.concatenate([np.asarray(labels) for _, labels in batches])
            targets.append(_labels(labels, len(names), folder / files[0]))
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


def _fetch(ready, root: str, folder: str, download: bool, where_to_put: str, name: str) -> None:
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
        reason = f"{what} ({type(e).__name__}: {one_line(e)[:120]})"
    for path in sorted(entries() - before, key=lambda p: -len(p.parts)):
        if path.exists():  # leave nothing half-downloaded behind
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    hint = "" if download else "data.download=false; "
    raise UserError(f"{name} {reason} under {top.resolve()}: {hint}{where_to_put}")
