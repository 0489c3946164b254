"""Least-squares objective (Mao et al. 2017, LSGAN).

The discriminator regresses its output onto a label: b for real samples, a for
generated ones; the generator wants its samples scored c. With a = 0, b = c = 1 (the
paper's Eq. 9, the setting of its experiments) the discriminator minimizes
((D(x) - 1)^2 + D(G(z))^2) / 2 and the generator (D(G(z)) - 1)^2 / 2.

For fixed densities p (real) and q (generated) the optimal discriminator is
D*(x) = (b p + a q) / (p + q); with b - c = 1 and b - a = 2 (a = -1, b = 1, c = 0) the
generator then minimizes half the Pearson chi^2 divergence between p + q and 2q
(the paper's Sec. 3.2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.losses.base import Objective, register

if TYPE_CHECKING:
    from torch import Tensor


@register("least_squares")
class LeastSquares(Objective):
    """D minimizes (E_P (D - b)^2 + E_Q (D - a)^2) / 2; G minimizes E_Q (D - c)^2 / 2."""

    def __init__(self, fake_label: float = 0.0, real_label: float = 1.0, g_target: float = 1.0):
        """Args:
        fake_label: a, the target of D on generated samples (Mao et al.)
        real_label: b, the target of D on real samples
        g_target: c, the value G wants D to give its samples
        """
        self.a, self.b, self.c = fake_label, real_label, g_target
        self.decision = (fake_label + real_label) / 2  # halfway between the two targets

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return ((real_out - self.b) ** 2).mean() / 2 + ((fake_out - self.a) ** 2).mean() / 2

    def g_loss(self, fake_out: Tensor) -> Tensor:
        return ((fake_out - self.c) ** 2).mean() / 2
