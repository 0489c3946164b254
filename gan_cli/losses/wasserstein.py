"""Wasserstein objective (Arjovsky et al. 2017; Gulrajani et al. 2017).

The critic f maximizes E_P[f(x)] - E_Q[f(x)], which for a 1-Lipschitz f is the dual of
W1(P, Q) (Kantorovich-Rubinstein). The Lipschitz constraint is not here: it is a
constraint (weight clipping, gradient penalty, spectral norm) chosen by the preset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.losses.base import Objective, register

if TYPE_CHECKING:
    from torch import Tensor


@register("wasserstein")
class Wasserstein(Objective):
    """The critic f maximizes E_P f - E_Q f; the generator maximizes E_Q f."""

    estimate_keys = ("wasserstein/critic", "wasserstein/heldout")

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return fake_out.mean() - real_out.mean()  # -(E_P f - E_Q f)

    def g_loss(self, fake_out: Tensor) -> Tensor:
        return -fake_out.mean()  # G moves Q towards where f is high

    def estimate(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return real_out.mean() - fake_out.mean()  # E_P f - E_Q f
