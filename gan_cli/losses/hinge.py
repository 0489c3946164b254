"""Hinge objective (Lim & Ye 2017; Miyato et al. 2018, the SN-GAN paper's default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.core.lazy import F
from gan_cli.losses.base import Objective, register

if TYPE_CHECKING:
    from torch import Tensor


@register("hinge")
class Hinge(Objective):
    """D minimizes E_P[max(0, 1 - f)] + E_Q[max(0, 1 + f)]; G minimizes -E_Q[f].

    The critic's output is a critic value as in WGAN, so E_P f - E_Q f is logged as the
    Wasserstein estimate: with a 1-Lipschitz critic (spectral norm) it is a lower bound on W1.
    """

    estimate_keys = ("wasserstein/critic", "wasserstein/heldout")
    decision = 0.0  # the margins sit at +1 (real) and -1 (generated)

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return F.relu(1 - real_out).mean() + F.relu(1 + fake_out).mean()  # max(0, 1 -+ f)

    def g_loss(self, fake_out: Tensor) -> Tensor:
        return -fake_out.mean()  # G moves Q towards where f is high

    def estimate(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return real_out.mean() - fake_out.mean()
