"""The constraint interface, and the registry of constraints by name; the base class
itself is "no constraint"."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

# name (the option of loss.constraint) -> class; filled by @register
CONSTRAINTS: dict[str, type[Constraint]] = {}


def register(name: str) -> Callable[[type[Constraint]], type[Constraint]]:
    """Make a constraint the option `loss.constraint=name`. Its constructor's keyword
    arguments become keys of `loss` (`loss.gp_lambda`, ...), typed and ranged by their
    annotations (see gan_cli.params)."""

    def add(cls: type[Constraint]) -> type[Constraint]:
        CONSTRAINTS[name] = cls
        return cls

    return add


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

    @staticmethod
    def critic_norm(norm: str) -> str:
        return norm

    def prepare(self, critic: nn.Module) -> nn.Module:
        return critic

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        return None

    def after_d_step(self, critic: nn.Module) -> None:
        return None

    def check_optimizer(self, optimizer: torch.optim.Optimizer) -> str | None:
        return None


register("none")(Constraint)
