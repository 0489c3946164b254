"""Weight clipping of WGAN (Arjovsky et al. 2017, Algorithm 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.constraints.base import Constraint, register
from gan_cli.core.lazy import nn, torch
from gan_cli.core.params import POSITIVE, Annotated

if TYPE_CHECKING:
    from torch import Tensor


@register("weight_clipping")
class WeightClipping(Constraint):
    """Clamp every critic parameter to [-clip, clip] right after each critic step.

    This bounds the critic's Lipschitz constant by some K that depends on clip and the
    architecture, so E_P f - E_Q f estimates K * W1, not W1.
    """

    def __init__(self, clip: Annotated[float, POSITIVE] = 0.01) -> None:
        """Args:
        clip: c, the critic's weights are clipped to [-c, c] after every critic step
        """
        self.clip = clip

    def after_d_step(self, critic: nn.Module) -> None:
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-self.clip, self.clip)

    def health(self, critic: nn.Module) -> dict[str, Tensor]:
        """health/clip_saturation: the share of critic weights at the bound (within 1%):
        near 1 the critic is a sign function of its inputs' directions and its gradients
        vanish or explode with depth (Gulrajani et al. 2017, Sec. 3, Fig. 1)."""
        at_bound = sum((p.abs() >= 0.99 * self.clip).sum() for p in critic.parameters())
        total = sum(p.numel() for p in critic.parameters())
        return {"health/clip_saturation": at_bound / total}

    def project(self, params: dict[str, Tensor]) -> dict[str, Tensor]:
        return {name: p.clamp(-self.clip, self.clip) for name, p in params.items()}

    def check_optimizer(self, optimizer: torch.optim.Optimizer) -> str | None:
        group = optimizer.param_groups[0]
        beta1 = group.get("betas", (0.0,))[0]
        if group.get("momentum", 0) > 0 or beta1 > 0:
            return (
                f"weight clipping with a momentum-based critic optimizer "
                f"({type(optimizer).__name__}, momentum/beta1 > 0): the WGAN paper found this "
                "unstable and uses RMSProp"
            )
        return None
