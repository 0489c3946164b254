"""The architecture study's space (WGAN-GP paper, Section 5.1): the knobs of a random
architecture and the draw model.arch_seed makes from them."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

# The space of the study's random architectures (Gulrajani et al. 2017, Section 5.1): each
# knob drawn uniformly and independently. The critic's batch norm becomes layer norm
# where the loss asks (wgan_gp), as for any critic.
SPACE: dict[str, tuple] = {
    "g_act": ("relu", "leaky_relu", "softplus", "tanh"),
    "d_act": ("relu", "leaky_relu", "softplus", "tanh"),
    "g_depth": (4, 8, 12, 20),
    "d_depth": (4, 8, 12, 20),
    "g_norm": ("batch", "none"),
    "d_norm": ("batch", "none"),
    "g_channels": (32, 64, 128),
    "d_channels": (32, 64, 128),
}


def draw_architecture(seed: int, knobs: Iterable[str]) -> dict[str, Any]:
    """The architecture `seed` draws from SPACE (Python's Mersenne Twister: the same on
    every machine), for those of its knobs a model has (all knobs are drawn, in SPACE's
    order, so a seed draws the same values whatever the model)."""
    rng = random.Random(seed)
    drawn = {knob: rng.choice(values) for knob, values in SPACE.items()}
    return {k: v for k, v in drawn.items() if k in set(knobs)}
