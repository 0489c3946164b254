"""R1 gradient penalty (Mescheder et al. 2018), with lazy regularization (Karras et al.
2020, StyleGAN2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.constraints.base import Constraint, register
from gan_cli.constraints.gradient_penalty import refuse_batch_norm
from gan_cli.core.lazy import nn, torch
from gan_cli.core.params import AT_LEAST_0, POSITIVE_INT, Annotated
from gan_cli.losses.base import full_precision

if TYPE_CHECKING:
    from torch import Tensor


@register("r1")
class R1(Constraint):
    """(r1_gamma / 2) E_P ||grad_x D(x)||^2 on real samples only.

    It pulls the discriminator's gradient on the data to zero, which makes the GAN
    game locally convergent (Mescheder et al., Theorem 4.1). Lazy regularization
    (r1_every = k > 1): the penalty is added on every k-th critic update only, times k,
    so on average it weighs the same at a k-th of the cost.

    It regularizes a discriminator's output (minimax, nonsaturating, hinge,
    least_squares, f-GAN), not a Wasserstein critic.
    """

    double_backward = True
    replaces_batch_norm = "layer"
    refuses_objectives = {  # noqa: RUF012 - read only
        "wasserstein": "a Wasserstein critic needs its slope bounded everywhere, not only "
        "on the data: use gradient_penalty, weight_clipping or spectral_norm"
    }

    def __init__(
        self,
        r1_gamma: Annotated[float, AT_LEAST_0] = 10.0,
        r1_every: Annotated[int, POSITIVE_INT] = 1,
    ) -> None:
        """Args:
        r1_gamma: gamma, the penalty is gamma / 2 E_real ||grad D(x)||^2
        r1_every: apply the penalty on every k-th critic update only, k times as strong
        """
        self.r1_gamma, self.r1_every = r1_gamma, r1_every

    @property
    def penalty_every(self) -> int:
        return self.r1_every

    def prepare(self, critic: nn.Module) -> nn.Module:
        return refuse_batch_norm(critic, "the R1 penalty")

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        """real: (B, ...) a batch of real samples; fake is not used."""
        x = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(full_precision(critic(x)).sum(), x, create_graph=True)
        squared = grad.flatten(1).pow(2).sum(1)  # ||grad_x D(x)||^2 per sample
        return self.r1_every * self.r1_gamma / 2 * squared.mean()
