"""The original GAN objective (Goodfellow et al. 2014), from logits.

With D(x) = sigmoid(l(x)): -log D(x) = softplus(-l) and -log(1 - D(x)) = softplus(l),
which stay finite and have non-vanishing gradients for any logit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.core.lazy import F
from gan_cli.losses.base import Objective, register

if TYPE_CHECKING:
    from torch import Tensor


@register("minimax")
class Minimax(Objective):
    """D maximizes log D(x) + log(1 - D(G(z))).

    saturating=False (non-saturating, the paper's practical advice): G maximizes
    log D(G(z)). saturating=True: G minimizes log(1 - D(G(z))), the minimax game itself,
    whose gradient vanishes when D confidently rejects the fakes.
    """

    decision = 0.0  # a logit: D(x) = sigmoid(0) = 1/2

    def __init__(self, saturating: bool = False) -> None:
        """Args:
        saturating: the minimax generator loss log(1 - D(G(z))) of the paper instead of
          the non-saturating -log D(G(z))
        """
        self.saturating = saturating

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        # -log sigmoid(l_real) - log(1 - sigmoid(l_fake))
        return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()

    def g_loss(self, fake_out: Tensor) -> Tensor:
        if self.saturating:
            return -F.softplus(fake_out).mean()  # log(1 - sigmoid(l_fake))
        return F.softplus(-fake_out).mean()  # -log sigmoid(l_fake)


@register("nonsaturating")
class NonSaturating(Minimax):
    """The GAN discriminator loss with the non-saturating generator loss -log D(G(z)),
    for presets whose own objective is another (`loss=sn loss.objective=nonsaturating`)."""

    def __init__(self) -> None:
        super().__init__(saturating=False)
