"""What every data source is and shares.

A data source says what kind of data it holds (`kind`: points or images), and the rest
of gan-cli reads that, never a tensor's shape: the metrics that fit it
(gan_cli.metrics), the sample figure (gan_cli.training.figures), the generator's output range
(gan_cli.config.build). Its training batches come from one seeded torch generator, whose state
a checkpoint saves, and each rank of a distributed run draws from its own shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

POINTS = "points"  # vectors in R^d (toy2d): unbounded, compared by optimal transport
IMAGES = "images"  # (C, H, W) in [-1, 1]: bounded, shown as grids
KINDS = (POINTS, IMAGES)


@dataclass(frozen=True)
class Labels:
    """The class labels of a labelled data set: `train` (N,) and `test` (M,) int64 in
    0..K-1, aligned with the training images and the test images (whose first ones are
    the held-out set); `names` the K class names."""

    train: Tensor
    test: Tensor
    names: tuple[str, ...]

    def frequencies(self) -> Tensor:
        """(K,) the share of each class in the training split."""
        counts = torch.bincount(self.train, minlength=len(self.names)).double()
        return counts / counts.sum()


class DataSource:
    """The protocol every data source implements.

    - `kind` (class attribute): POINTS or IMAGES;
    - `sample_shape(**config)` (class method): one sample's shape, from the config alone;
    - `shape`: one sample's shape; `sample()`: a training batch (batch_size, *shape) on
      the training device, `sample_labelled()` the same with its labels; `heldout`: a
      fixed held-out set (N, *shape), never trained on;
    - `modes`: (centres (K, d), std) of a Gaussian mixture, for mode coverage, or None;
    - `labels`: the class labels (Labels) of labelled data, or None;
    - `state_dict()` / `load_state_dict()`: the sampler's state, for an exact resume;
    - `shard(rank, size)`: draw as one rank of a distributed run;
    - `examples()`: the finite training set (N, *shape) that `reweight(weights)` weighs
      (AdaGAN): then each training sample is example i with probability weights[i].
    """

    kind: ClassVar[str]
    modes: tuple[Tensor, float] | None = None
    labels: Labels | None = None
    heldout_labels: Tensor | None = None  # the labels of `heldout`, for labelled data
    shape: tuple[int, ...]
    heldout: Tensor
    _gen: torch.Generator  # every training batch is drawn with it
    weights: Tensor | None = None  # AdaGAN: each training example's probability; None: uniform

    @classmethod
    def sample_shape(cls, **config: Any) -> tuple[int, ...]:
        raise NotImplementedError

    def sample(self) -> Tensor:
        raise NotImplementedError

    def sample_labelled(self) -> tuple[Tensor, Tensor | None]:
        """A training batch and its labels (batch_size,) int64, or None where the data
        has none."""
        return self.sample(), None

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self._gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._gen.set_state(state["generator"])

    def examples(self) -> Tensor:
        """The finite training set, (N, *shape) in the generator's range."""
        raise NotImplementedError

    @property
    def n_examples(self) -> int:
        return len(self.examples())

    def first_examples(self, n: int) -> Tensor:
        """The first n examples of the training set (a fixed subset), on the held-out
        data's device."""
        return self.examples()[:n].to(self.heldout.device)

    def reweight(self, weights: Tensor | None) -> None:
        """Draw training samples from examples() with these probabilities (N,) (None:
        as before)."""
        if weights is not None and len(weights) != self.n_examples:
            raise ValueError(f"{len(weights)} weights for {self.n_examples} examples")
        self.weights = None if weights is None else weights.float().to(self._gen.device)

    def weighted(self, n: int) -> Tensor:
        """n example indices drawn by the weights, from the training stream."""
        return torch.multinomial(self.weights, n, replacement=True, generator=self._gen)

    def shard(self, rank: int, size: int) -> None:
        """Draw as rank `rank` of `size`: its own random stream (and, where the data is
        a finite set, its own disjoint part of it)."""
        self._gen.manual_seed(self._gen.initial_seed() + rank)
