"""Stacked MNIST (data=stacked_mnist): three digits as the channels of one image, the
image benchmark of mode collapse (1,000 modes)."""

from __future__ import annotations

from typing import Any, Unpack

import torch
from torch import Tensor

from gan_cli.core.params import POSITIVE_INT, Annotated, OneOf
from gan_cli.data.base import Labels
from gan_cli.data.memory import ImageData, Sampling
from gan_cli.data.official import MNIST, FashionMNIST


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
        **sampling: Unpack[Sampling],
    ) -> None:
        digits = STACKED_BASES[base](root, download, **{**sampling, "device": "cpu"})
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
        super().__init__(train, test, labels, **sampling)
        self.digits, self.cache_dir = digits, digits.cache_dir

    @classmethod
    def sample_shape(cls, **_: Any) -> tuple[int, ...]:
        return (3, 32, 32)

    @staticmethod
    def prepare(root: str, download: bool, base: str = "mnist", **_: Any) -> None:
        STACKED_BASES[base].prepare(root, download)


STACKED_BASES = {"mnist": MNIST, "fashion_mnist": FashionMNIST}


def _stack(digits: Tensor, idx: Tensor) -> Tensor:
    """uint8 digits (N, 1, H, W) and indices (M, 3) -> (M, 3, H, W), one digit per channel."""
    return digits[:, 0][idx]


def _stack_label(labels: Tensor) -> Tensor:
    """Digit labels (M, 3) -> the stack's class 100 a + 10 b + c (M,)."""
    return labels @ torch.tensor([100, 10, 1])
