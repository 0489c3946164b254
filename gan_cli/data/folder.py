"""A folder of your own images (data=image_folder): every png/jpg/webp under a tree,
packed once at the training resolution (gan_cli.data.packing) and read memory-mapped;
class labels from subfolders or from a labels file."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Any, Optional, Unpack

import torch
from torch import Tensor

from gan_cli.core.params import Annotated, Check, OneOf, at_least
from gan_cli.data import image_files, packing
from gan_cli.data.base import Labels
from gan_cli.data.memory import ImageData, Sampling

# every this many bytes of batches read, the pages read are handed back (Pack.release)
RELEASE_BYTES = 64 * 2**20


class ImageFolder(ImageData):
    """Every png/jpg/webp under `path` (any tree), at image_size x image_size: the
    shorter side scaled to image_size and the middle kept (crop=center), or the longer
    side scaled and the rest filled with black (crop=pad); RGB (channels=3) or grayscale
    (1). Unreadable images stop the run with their name, or are left out (skip_bad).

    The first run packs the folder into `cache_dir` (gan_cli.data.packing); later runs,
    sweep jobs and ranks open the pack in about a second and read their batches from it
    memory-mapped, so the folder may be larger than memory. The pack's images are in a
    fixed shuffled order; the first tenth of them (at most heldout_size) are held out,
    the same for every seed, and never trained on.

    Labelled when every image sits in one of two or more class subfolders of `path`
    (path/<class name>/**/image.png, as torchvision's ImageFolder reads them), or by
    `labels`: a CSV file with the columns file,label or a stylegan dataset.json.
    """

    def __init__(
        self,
        path: str,
        image_size: Annotated[int, at_least(8, "an integer")] = 64,
        channels: Annotated[int, Check(lambda v: v in (1, 3), "one of 1|3")] = 3,
        crop: Annotated[str, OneOf(image_files.CROPS)] = "center",
        labels: Optional[str] = None,  # noqa: UP045 (OmegaConf reads Optional)
        skip_bad: bool = False,
        cache_dir: Optional[str] = None,  # noqa: UP045
        **sampling: Unpack[Sampling],
    ) -> None:
        spec = image_files.Spec(image_size, channels, crop)
        self.pack = packing.open_or_pack(path, spec, cache_dir, labels, skip_bad)
        images = torch.from_numpy(self.pack.images)  # the memory map itself, no copy
        n_heldout = max(1, min(Sampling(**sampling).heldout_size, len(images) // 10))
        targets = None if self.pack.labels is None else torch.from_numpy(self.pack.labels)
        split = None
        if targets is not None:
            split = Labels(targets[n_heldout:], targets[:n_heldout], tuple(self.pack.classes))
        super().__init__(
            images[n_heldout:],
            images[:n_heldout].clone(),
            split,
            on_host=True,
            **{**sampling, "heldout_size": n_heldout},
        )
        self.cache_dir = self.pack.folder  # what is learnt from this pack is kept beside it
        self._release_every = max(1, RELEASE_BYTES // (self.batch_size * images[0].numel()))
        self._batches = 0

    @cached_property
    def fingerprint(self) -> str:
        """The pack's sources (every file's path, size and time, the labels file) and
        spec, and the split: the same images, without reading them all again."""
        manifest = {k: v for k, v in self.pack.manifest.items() if k != "seconds"}
        h = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode())
        h.update(str(len(self.test)).encode())
        return h.hexdigest()

    def sample_labelled(self) -> tuple[Tensor, Tensor | None]:
        batch = super().sample_labelled()
        self._batches += 1
        if self._batches % self._release_every == 0:
            self.pack.release()
        return batch

    @classmethod
    def sample_shape(cls, image_size: int = 64, channels: int = 3, **_: Any) -> tuple[int, ...]:
        return (channels, image_size, image_size)

    @staticmethod
    def prepare(path: str, labels: str | None = None, **_: Any) -> None:
        """The folder holds images (and the labels file, when one is named, labels them
        all), read from the files' names alone."""
        files = image_files.list_images(path)
        if labels is not None:
            image_files.labels_from_file(labels, files)
