"""2-D toy distributions.

ring8, grid25 and swissroll follow the WGAN-GP toy code (Gulrajani et al. 2017,
gan_toy.py), scales and standard deviations included. `lines` is the example of the
WGAN paper (Arjovsky et al. 2017, Example 1): real points (0, Z) with Z ~ U[0, 1].
Samples are drawn fresh for every batch from a seeded generator: the data is infinite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property

import torch
from torch import Tensor

from gan_cli.core.params import POSITIVE_INT, Annotated, OneOf, at_least
from gan_cli.data.base import POINTS, DataSource

Sampler = Callable[[int, torch.Generator], Tensor]
POOL = 64_000  # the finite training set AdaGAN reweights (Tolstikhin et al.'s toy sets: 64k points)


def _ring8_centers() -> Tensor:
    angles = torch.arange(8) * (math.pi / 4)
    return 2.0 * torch.stack([angles.cos(), angles.sin()], 1) / 1.414


def _grid25_centers() -> Tensor:
    xs = torch.arange(-2, 3, dtype=torch.float32) * 2.0
    return torch.cartesian_prod(xs, xs) / 2.828


# Mode centres and per-coordinate standard deviation of the mixtures, as in gan_toy.py
# (points are drawn around scaled centres, then the whole set is divided by 1.414 / 2.828).
MIXTURES: dict[str, tuple[Tensor, float]] = {
    "ring8": (_ring8_centers(), 0.02 / 1.414),
    "grid25": (_grid25_centers(), 0.05 / 2.828),
}


def _mixture(name: str) -> Sampler:
    centers, std = MIXTURES[name]

    def sample(n: int, gen: torch.Generator) -> Tensor:
        idx = torch.randint(len(centers), (n,), generator=gen)
        return centers[idx] + std * torch.randn(n, 2, generator=gen)

    return sample


def _swissroll(n: int, gen: torch.Generator) -> Tensor:
    # sklearn.datasets.make_swiss_roll(noise=0.25), coordinates (x, z), divided by 7.5
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=gen))
    xz = torch.stack([t * t.cos(), t * t.sin()], 1)
    return (xz + 0.25 * torch.randn(n, 2, generator=gen)) / 7.5


def _lines(n: int, gen: torch.Generator) -> Tensor:
    return torch.stack([torch.zeros(n), torch.rand(n, generator=gen)], 1)


DISTRIBUTIONS: dict[str, Sampler] = {
    "ring8": _mixture("ring8"),
    "grid25": _mixture("grid25"),
    "swissroll": _swissroll,
    "lines": _lines,
}


class Toy2D(DataSource):
    """Batches (batch_size, 2) from one of DISTRIBUTIONS, on `device`.

    Training batches and the held-out set come from separate seeded generators, so the
    held-out points are never trained on and do not depend on the training schedule.
    """

    kind = POINTS
    shape = (2,)

    def __init__(
        self,
        distribution: Annotated[str, OneOf(DISTRIBUTIONS)] = "ring8",
        batch_size: Annotated[int, POSITIVE_INT] = 256,
        heldout_size: Annotated[int, at_least(2, "an integer")] = 2000,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {distribution!r}; one of {list(DISTRIBUTIONS)}")
        self.distribution = distribution
        self.batch_size = batch_size
        self.device = torch.device(device)
        self._draw = DISTRIBUTIONS[distribution]
        # (centres (K, 2), std) of a Gaussian mixture, for the mode-coverage metrics
        self.modes = MIXTURES.get(distribution)
        self._gen, self._seed = torch.Generator().manual_seed(seed), seed
        heldout_gen = torch.Generator().manual_seed(seed + 1_000_003)
        self.heldout = self._draw(heldout_size, heldout_gen).to(self.device)

    @classmethod
    def sample_shape(cls, **_: object) -> tuple[int, ...]:
        return cls.shape

    def sample(self) -> Tensor:
        """One training batch, (batch_size, 2): fresh points, or points of the finite
        training set examples() drawn by their weights once reweighted (AdaGAN)."""
        if self.weights is not None:
            return self.examples()[self.weighted(self.batch_size)].to(self.device)
        return self._draw(self.batch_size, self._gen).to(self.device)

    @cached_property
    def _examples(self) -> Tensor:
        return self._draw(POOL, torch.Generator().manual_seed(self._seed + 2_000_003))

    def examples(self) -> Tensor:
        """A fixed training set of POOL points on the CPU (from its own seeded stream), for
        reweighting."""
        return self._examples
