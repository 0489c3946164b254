"""The health scalars: what a step shows of the game's state, logged at the loop's
logging cadence (trainer.log_every) beside the losses, for the doctor's rules
(gan_cli.doctor) and for the user's own eyes.

Everything here reads what the step left behind: the gradients still on the
parameters (the generator's from its update, the critic's from its last update), the
critic's outputs on its last real and generated batches, and those batches. Nothing is
recomputed, so the cost is a few norms and one small distance matrix per logged step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

DIVERSITY_SAMPLES = 256  # samples of each batch in the diversity ratio (a 256 x 256 matrix)


def health(
    generator: nn.Module,
    critic: nn.Module,
    out: dict[str, Tensor],
    decision: float | None,
    constraint_health: dict[str, Tensor],
) -> dict[str, float]:
    """The health scalars of one step, as floats (one synchronization for them all).

    `out` is the step's output: `real_out`, `fake_out` (B,) the critic's raw outputs on
    its last batches, and where the step kept them `real`, `fake` (B, ...) the batches.
    `decision` is the objective's: the output that separates real from generated for a
    classifier; None for a critic, whose outputs are centred on the midpoint of the two
    means instead.
    """
    values: dict[str, Tensor] = {}
    if (g := grad_norm(generator.parameters())) is not None:
        values["health/grad_g"] = g
    layers = [p.grad.norm() for p in critic.parameters() if p.grad is not None and p.ndim > 1]
    if layers:
        stacked = torch.stack(layers)
        values["health/grad_d"] = grad_norm(critic.parameters())
        values["health/grad_d_layer_min"] = stacked.min()
        values["health/grad_d_layer_max"] = stacked.max()
    if "real_out" in out and "fake_out" in out:
        values.update(outputs(out["real_out"].float(), out["fake_out"].float(), decision))
    if "real" in out and "fake" in out:
        values["health/diversity"] = diversity(out["fake"], out["real"])
    values.update(constraint_health)
    names = list(values)
    numbers = torch.stack([v.detach().float().reshape(()) for v in values.values()]).tolist()
    return dict(zip(names, numbers, strict=True))


def grad_norm(parameters) -> Tensor | None:
    """The L2 norm of all the gradients together; None when none has one."""
    grads = [p.grad.detach().flatten() for p in parameters if p.grad is not None]
    return torch.cat(grads).norm() if grads else None


def outputs(real_out: Tensor, fake_out: Tensor, decision: float | None) -> dict[str, Tensor]:
    """health/d_real and d_fake (the mean outputs); health/rt, ADA's overfitting
    heuristic E[sign(D(real) - c)] (Karras et al. 2020: 0 when the critic cannot tell its
    training images apart, 1 when it is sure of every one); and health/d_accuracy, the
    critic's accuracy as a classifier of the two batches (classifier objectives only).
    c is the objective's decision value, or for a critic the midpoint of the two means."""
    real_out, fake_out = real_out.flatten(), fake_out.flatten()
    d_real, d_fake = real_out.mean(), fake_out.mean()
    c = (d_real + d_fake) / 2 if decision is None else decision
    found = {"health/d_real": d_real, "health/d_fake": d_fake}
    found["health/rt"] = torch.sign(real_out - c).mean()
    if decision is not None:
        right = (real_out > decision).float().sum() + (fake_out < decision).float().sum()
        found["health/d_accuracy"] = right / (len(real_out) + len(fake_out))
    return found


def diversity(fake: Tensor, real: Tensor) -> Tensor:
    """The generated batch's mean pairwise distance over the real batch's (1: as varied
    as the data; near 0: the generator repeats itself). (N, ...) each; at most
    DIVERSITY_SAMPLES of each are read."""
    n = DIVERSITY_SAMPLES

    def spread(x: Tensor) -> Tensor:
        return torch.pdist(x[:n].detach().flatten(1).float()).mean()

    return spread(fake) / spread(real).clamp_min(1e-12)
