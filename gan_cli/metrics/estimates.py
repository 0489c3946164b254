"""The critic's own estimate (E_real f - E_fake f, or an f-divergence bound) on held-out
real data and fresh generated samples, which the critic never trained on."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_cli.data.base import KINDS
from gan_cli.metrics import Evaluation, register


@register(
    "heldout",
    keys=("wasserstein/heldout", "divergence/heldout"),
    kinds=KINDS,
    fits=lambda data, objective: objective.estimate_keys is not None,
)
def heldout_estimate(ev: Evaluation) -> dict[str, float]:
    estimate = ev.objective.estimate(
        chunked(ev.critic, ev.data.heldout), chunked(ev.critic, ev.fake)
    )
    return {ev.objective.estimate_keys[1]: estimate.item()}


def chunked(net: nn.Module, x: Tensor, size: int = 500) -> Tensor:
    """net(x) in chunks of `size`, so evaluation memory stays that of a batch."""
    with torch.no_grad():
        return torch.cat([net(part) for part in x.split(size)])
