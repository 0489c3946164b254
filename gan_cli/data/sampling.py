"""What every data source shares: its training batches come from one seeded torch
generator, whose state a checkpoint saves, and each rank of a distributed run draws
from its own shard."""

from __future__ import annotations

from typing import Any

import torch


class SeededSampler:
    """Owns `self._gen`, the generator every training batch is drawn with."""

    _gen: torch.Generator

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self._gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._gen.set_state(state["generator"])

    def shard(self, rank: int, size: int) -> None:
        """Draw as rank `rank` of `size`: its own random stream (and, where the data is
        a finite set, its own disjoint part of it)."""
        self._gen.manual_seed(self._gen.initial_seed() + rank)
