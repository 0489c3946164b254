"""Images held in memory: the sampler every image data set is.

A data set is decoded once into one uint8 tensor (N, C, H, W), kept on the training
device when it fits (an image folder's is a memory map of its pack, read as it is
used); a batch is drawn by random indices and scaled to [-1, 1] on the fly, so no
per-image PIL transform runs in the training loop. Memory: MNIST 60,000 x 1 x 32 x 32
bytes = 61 MB; CIFAR-10 50,000 x 3 x 32 x 32 = 154 MB; a folder N x C x S x S, read
from its pack as it is used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Optional, Unpack

import torch
from torch import Tensor

from gan_cli.core.params import POSITIVE_INT, Annotated, Check, at_least
from gan_cli.data import augment as aug
from gan_cli.data.base import IMAGES, DataSource, Labels


@dataclass(frozen=True)
class Sampling:
    """What every image data set takes besides where its images come from: the keys
    data.batch_size, data.heldout_size, data.fraction, data.augment and
    data.augment_target of each of them, declared here once (seed and device are the
    run's). A data set's constructor takes them as `**sampling: Unpack[Sampling]`."""

    batch_size: Annotated[int, POSITIVE_INT] = 64
    heldout_size: Annotated[int, at_least(2, "an integer")] = 2000
    seed: int = 0
    device: str | torch.device = "cpu"
    fraction: Annotated[float, Check(lambda v: 0 < v <= 1, "a number in (0, 1]")] = 1.0
    augment: Annotated[str, Check(aug.valid, aug.ALLOWED)] = ""
    augment_target: Annotated[
        Optional[float],  # noqa: UP045 - OmegaConf reads typing.Optional
        Check(lambda v: -1 <= v <= 1, "null or a number in [-1, 1]"),
    ] = None


class ImageData(DataSource):
    """Batches (batch_size, C, H, W) in [-1, 1] drawn from uint8 images in memory.

    `train` (uint8, host memory) are all training images and `images` this rank's part
    of them, on the training device; `test` (uint8) are real images never trained on, and
    the first `heldout_size` of them, in [-1, 1], are `heldout`, for the held-out
    estimates. Labelled data has `labels` (aligned with `train` and `test`), and a folder
    `cache_dir` where what is learnt from the data once (gan_cli.metrics.domain_classifier) is kept.

    Every image source also takes (`Sampling`):
    - `fraction`: train on this fraction of the training split only, drawn once from the
      seed (the data-efficiency setting of DiffAugment and ADA); `train`, and so the
      domain classifier, the metrics and their floor, stay the whole split;
    - `augment`, `augment_target`: what the critic sees (gan_cli.data.augment), which
      the training step reads from here.

    `on_host`: keep `train` where it is (a memory-mapped pack) and move each batch to the
    training device as it is drawn.
    """

    kind = IMAGES
    cache_dir: Path
    digits: ImageData | None = None  # stacked data: the digits each channel holds

    def __init__(
        self,
        train: Tensor,
        test: Tensor,
        labels: Labels | None = None,
        on_host: bool = False,
        **sampling: Unpack[Sampling],
    ) -> None:
        s = Sampling(**sampling)
        heldout_size, batch_size, seed, device = s.heldout_size, s.batch_size, s.seed, s.device
        fraction, augment, augment_target = s.fraction, s.augment, s.augment_target
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
        try:  # a memory-mapped set (on_host) stays where it is, and so may exceed memory
            self.images = used if on_host else used.to(self.device)
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

    def first_examples(self, n: int) -> Tensor:
        """The first n training images in [-1, 1] (converted alone, not the whole set)."""
        return to_unit_range(self.images[:n].to(self.device))

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
