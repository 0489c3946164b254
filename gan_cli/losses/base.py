"""The interface every objective implements, and the registry of objectives by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.core.lazy import torch
from gan_cli.core.params import registrar

if TYPE_CHECKING:
    from torch import Tensor

# name (the option of loss.objective) -> class; filled by @register
OBJECTIVES: dict[str, type[Objective]] = {}
register = registrar(OBJECTIVES, "objective")


class Objective:
    """A GAN objective on raw discriminator outputs (logits or critic values).

    `real_out` and `fake_out` are shaped (B,) or (B, 1): the discriminator's output on a
    batch of real and of generated samples. Both losses are minimized.

    Objectives whose critic yields a distance estimate name it in `estimate_keys`
    (the key on the training batch, the key on held-out data) and compute it in
    `estimate`; the others leave `estimate_keys` as None.
    """

    estimate_keys: tuple[str, str] | None = None

    # The raw output that separates "real" from "generated" where the objective reads the
    # critic as a classifier (a logit's 0); None for a critic whose value has no such
    # point (Wasserstein, f-GAN). health/d_accuracy and health/rt read it.
    decision: float | None = None

    # the networks it trains besides the generator and the critic (gan_cli.losses.joint)
    networks: tuple[str, ...] = ()

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake_out: Tensor) -> Tensor:
        raise NotImplementedError

    def estimate(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} gives no distance estimate")


def full_precision(out: Tensor) -> Tensor:
    """A network's output for a loss: float32 (from bf16 under autocast), or float64 as
    it is (the precision of gradient checks)."""
    return out if out.dtype == torch.float64 else out.float()
