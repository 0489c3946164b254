"""The critic's own estimate (E_real f - E_fake f, or an f-divergence bound) on held-out
real data and fresh generated samples, which the critic never trained on."""

from __future__ import annotations

from gan_cli.data.base import KINDS
from gan_cli.metrics.base import Evaluation, register


@register(
    "heldout",
    keys=("wasserstein/heldout", "divergence/heldout"),
    kinds=KINDS,
    fits=lambda data, objective: objective.estimate_keys is not None,
)
def heldout_estimate(ev: Evaluation) -> dict[str, float]:
    return {ev.objective.estimate_keys[1]: ev.objective.estimate(*ev.critic_out).item()}
