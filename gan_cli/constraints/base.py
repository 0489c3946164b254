"""The constraint interface, and the registry of constraints by name; the base class
itself is "no constraint"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.core.lazy import nn, torch
from gan_cli.core.params import registrar

if TYPE_CHECKING:
    from torch import Tensor

# name (the option of loss.constraint) -> class; filled by @register
CONSTRAINTS: dict[str, type[Constraint]] = {}
register = registrar(CONSTRAINTS, "constraint")


class Constraint:
    """Hooks the training loop calls around the critic. Each does nothing by default.

    - `critic_norm(norm)` before the critic is built: the normalization its hidden layers
      may have, given the one the model asks for (batch norm breaks the gradient penalty);
    - `prepare(critic)` once, before the optimizers are built (spectral norm wraps layers);
    - `penalty(critic, real, fake)` on each critic step, added to the critic's loss
      (gradient penalty); None when there is none;
    - `after_d_step(critic)` right after each critic optimizer step (weight clipping);
    - `check_optimizer(optimizer)` once: a warning when the critic's optimizer does not
      suit the constraint, else None;
    - `health(critic)`: the constraint's own health scalars (weight clipping: the share
      of weights at the bound), read at the loop's logging cadence;
    - `project(params)`: `after_d_step` as a function of the critic's parameters (by
      name), for the simulated critic steps of an unrolled generator update.

    `penalty_every` = k > 1 asks for the penalty on every k-th critic update only (lazy
    regularization; the penalty itself then weighs k times as much).
    """

    # whether `penalty` differentiates a gradient (torch.compile'd critics cannot)
    double_backward = False

    # what replaces batch norm in the critic's hidden layers, if the constraint cannot
    # live with it; None keeps the model's choice
    replaces_batch_norm: str | None = None

    # objectives (by registered name) it makes no sense with -> why
    refuses_objectives: dict[str, str] = {}  # noqa: RUF012 - read only

    # penalize every k-th critic update only (lazy regularization)
    penalty_every = 1

    @classmethod
    def critic_norm(cls, norm: str) -> str:
        return cls.replaces_batch_norm if norm == "batch" and cls.replaces_batch_norm else norm

    def prepare(self, critic: nn.Module) -> nn.Module:
        return critic

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        return None

    def after_d_step(self, critic: nn.Module) -> None:
        return None

    def check_optimizer(self, optimizer: torch.optim.Optimizer) -> str | None:
        return None

    def health(self, critic: nn.Module) -> dict[str, Tensor]:
        return {}

    def project(self, params: dict[str, Tensor]) -> dict[str, Tensor]:
        return params


register("none")(Constraint)
