"""The interface of the objectives that train more than two networks together: a
generator G: z -> x, a reconstructor F: x -> z and a discriminator on pairs D(x, z)
(gan_cli.models.joint), as ALI/BiGAN and VEEGAN do.

Such an objective says what each network learns from one forward pass: `phases` gives
each loss and the networks (by name) whose parameters take its gradient. The training
step differentiates every loss for its own networks only and then updates them all at
once (the simultaneous update of both papers' code), without knowing what they mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gan_cli.core.lazy import torch
from gan_cli.core.params import AT_LEAST_0, Annotated
from gan_cli.losses.base import Objective

if TYPE_CHECKING:
    from torch import Tensor

GENERATOR, CRITIC, RECONSTRUCTOR = "generator", "discriminator", "reconstructor"


@dataclass
class Phase:
    """One loss (a scalar) and the networks it trains."""

    loss: Tensor
    networks: tuple[str, ...]


@dataclass
class JointBatch:
    """The discriminator's raw outputs on one batch: `real_out` = D(x, F(x)) (B,) for
    real x, `fake_out` = D(G(z), z) (B,) for fresh z; and G, F, z for what else an
    objective computes (VEEGAN's reconstruction of z)."""

    real_out: Tensor
    fake_out: Tensor
    z: Tensor
    fake: Tensor  # G(z)
    reconstruct: Callable[[Tensor], Tensor]  # F


class JointObjective(Objective):
    """Base of the objectives on pairs. `networks` names the networks beyond the
    generator and the critic it trains; `phases(pairs)` maps each logged loss name
    (loss/d, loss/g, ...) to its Phase, and may add scalars of its own (loss/recon)."""

    networks: tuple[str, ...] = (RECONSTRUCTOR,)

    def __init__(self, latent_noise: Annotated[float, AT_LEAST_0] = 0.0) -> None:
        """Args:
        latent_noise: s, the data's pairs are (x, F(x) + s eps): the encoder as the
          Gaussian N(F(x), s^2 I); 0 pairs x with F(x)
        """
        self.latent_noise = latent_noise

    def phases(self, pairs: JointBatch) -> tuple[dict[str, Phase], dict[str, Tensor]]:
        raise NotImplementedError

    def code(self, f_x: Tensor) -> Tensor:
        """The latent a real example x is paired with, from F(x) (B, z_dim): F(x) itself
        (a deterministic reconstructor, `latent_noise` 0), or with `latent_noise` = s > 0
        a sample of the Gaussian encoder N(F(x), s^2 I): ALI's stochastic encoder, the
        p(z|x) VEEGAN's Algorithm 1 draws from."""
        if not self.latent_noise:
            return f_x
        return f_x + self.latent_noise * torch.randn_like(f_x)

    # the two-network interface does not apply: the step calls `phases`
    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        raise TypeError(f"{type(self).__name__} trains on pairs: see phases()")

    def g_loss(self, fake_out: Tensor) -> Tensor:
        raise TypeError(f"{type(self).__name__} trains on pairs: see phases()")


def latent_error(z: Tensor, z_hat: Tensor) -> Tensor:
    """E ||z - z_hat||_2^2 over the batch: (B, z_dim) twice -> a scalar."""
    return (z.float() - z_hat.float()).pow(2).sum(dim=1).mean()
