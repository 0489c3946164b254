"""PacGAN packing (Lin et al. 2018): the critic judges m samples at once.

A pack is m samples of one kind (all real or all generated) joined along the first
feature axis: (m, 2) toy points become one 2m-vector, m images of C channels one image
of m*C channels. A critic that sees several samples together can tell a generator that
repeats itself from the data, which penalizes mode collapse; the paper shows that
packing amplifies the total variation distance of collapsed generators.
"""

from __future__ import annotations

from torch import Tensor


def packed_shape(shape: tuple[int, ...], m: int) -> tuple[int, ...]:
    """The critic's input shape for packs of m samples of `shape`."""
    return (m * shape[0], *shape[1:])


def pack(x: Tensor, m: int) -> Tensor:
    """(N, d, ...) samples -> (N // m, m * d, ...) packs of consecutive samples; a
    remainder of fewer than m samples is left out."""
    if m == 1:
        return x
    n = len(x) - len(x) % m
    return x[:n].reshape(n // m, m * x.shape[1], *x.shape[2:])
