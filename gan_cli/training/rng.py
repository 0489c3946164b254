"""Every random number generator a run draws from, as plain data a checkpoint can hold.

`capture()` and `restore()` cover Python's `random`, NumPy's global generator, torch's
CPU generator and every CUDA (or MPS) device's; the data sampler and the evaluation
noise have their own torch generators, saved beside these by the loop. Together they
make a resumed run draw exactly the numbers an uninterrupted one would.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture() -> dict[str, Any]:
    state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        # the NumPy key (624 uint32) as a list: checkpoints are read with weights_only=True
        "numpy": {**state, "state": {**state["state"], "key": state["state"]["key"].tolist()}},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "mps": torch.mps.get_rng_state() if torch.backends.mps.is_available() else None,
    }


def restore(saved: dict[str, Any]) -> None:
    random.setstate(_tuples(saved["python"]))
    numpy = saved["numpy"]
    key = np.asarray(numpy["state"]["key"], dtype=np.uint32)
    np.random.set_state({**numpy, "state": {**numpy["state"], "key": key}})
    torch.set_rng_state(saved["torch"])
    if saved["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda"][: torch.cuda.device_count()])
    if saved["mps"] is not None and torch.backends.mps.is_available():
        torch.mps.set_rng_state(saved["mps"])


def _tuples(value: Any) -> Any:
    """random.setstate wants the nested tuples getstate gave, whatever a loader made of them."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list | tuple) else value
