"""torch, imported where it is first used rather than where it is named.

The objectives and constraints register themselves as options of the config (gan-train
--help lists them, a mistyped key is answered from them) before anything is trained: a
command line is read and checked without importing torch, which takes seconds. Their
modules name torch through these stand-ins; the first attribute read imports it.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class LazyModule(types.ModuleType):
    """A module imported on first attribute access (`torch.zeros`, `nn.Module`)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self.__name__), name)


torch: Any = LazyModule("torch")
nn: Any = LazyModule("torch.nn")
F: Any = LazyModule("torch.nn.functional")
