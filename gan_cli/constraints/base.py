"""The constraint interface; the base class itself is "no constraint"."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Constraint:
    """Hooks the training loop calls around the critic. Each does nothing by default.

    - `critic_norm(norm)` before the critic is built: the normalization its hidden layers
      may have, given the one the model asks for (batch norm breaks the gradient penalty);
    - `prepare(critic)` once, before the optimizers are built (spectral norm wraps layers);
    - `penalty(critic, real, fake)` on each critic step, added to the critic's loss
      (gradient penalty); None when there is none;
    - `after_d_step(critic)` right after each critic optimizer step (weight clipping);
    - `check_optimizer(optimizer)` once: a warning when the critic's optimizer does not
      suit the constraint, else None.
    """

    # whether `penalty` differentiates a gradient (torch.compile'd critics cannot)
    double_backward = False

    def critic_norm(self, norm: str) -> str:
        return norm

    def prepare(self, critic: nn.Module) -> nn.Module:
        return critic

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        return None

    def after_d_step(self, critic: nn.Module) -> None:
        return None

    def check_optimizer(self, optimizer: torch.optim.Optimizer) -> str | None:
        return None
