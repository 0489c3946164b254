"""Gradient penalty of WGAN-GP (Gulrajani et al. 2017, Algorithm 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.constraints.base import Constraint, register
from gan_cli.core.errors import UserError
from gan_cli.core.lazy import nn, torch
from gan_cli.core.params import AT_LEAST_0, Annotated
from gan_cli.losses.base import full_precision

if TYPE_CHECKING:
    from torch import Tensor


def refuse_batch_norm(critic: nn.Module, penalty: str) -> nn.Module:
    """A penalty on each sample's input gradient is wrong when batch norm mixes the
    samples: the gradient it penalizes is not the critic's (Gulrajani et al., Sec. 4)."""
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
    if any(isinstance(m, norms) for m in critic.modules()):
        raise UserError(
            f"{penalty} is wrong with batch norm in the critic: "
            "use a critic without batch norm (layer norm or none)"
        )
    return critic


@register("gradient_penalty")
class GradientPenalty(Constraint):
    """gp_lambda * E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = eps x + (1 - eps) x_tilde.

    One eps ~ U[0, 1] per sample, so x_hat lies on the segment between a real and a
    generated sample, where the optimal critic has unit gradient norm.
    """

    double_backward = True
    replaces_batch_norm = "layer"  # as in the paper's critics (Sec. 4)

    def __init__(self, gp_lambda: Annotated[float, AT_LEAST_0] = 10.0) -> None:
        """Args:
        gp_lambda: lambda, the weight of the gradient penalty
        """
        self.gp_lambda = gp_lambda

    def prepare(self, critic: nn.Module) -> nn.Module:
        return refuse_batch_norm(critic, "the gradient penalty")

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        """real, fake: (B, ...) batches of the same shape; fake carries no graph."""
        eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        # Under bf16 autocast the critic runs in bf16; the gradient with respect to the
        # float32 x_hat, its norm and the penalty are float32.
        (grad,) = torch.autograd.grad(full_precision(critic(x_hat)).sum(), x_hat, create_graph=True)
        norm = grad.flatten(1).norm(2, dim=1)  # (B,)
        return self.gp_lambda * ((norm - 1) ** 2).mean()
