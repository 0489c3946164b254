"""Metrics computed outside the training graph, registered by name. One family per file.

Each family is registered with `@register(name, keys=..., kinds=...)`: the scalars it
logs, the data kinds it applies to (gan_cli.data.base), whether it runs at every
evaluation or only at the end, and which of its scalars the progress bar shows. The
config list `metrics.eval` picks families by name (null: every one that fits the data
and the objective); the loop, the console, the sweep summary and the manual's reference pages
read this one registry. Every module of this package is imported here, so adding a
metric is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil

from gan_cli.metrics.base import (
    REGISTRY,
    Evaluation,
    Metric,
    applies,
    chunked,
    for_run,
    register,
    scalar_names,
    selected,
)

__all__ = [
    "REGISTRY",
    "Evaluation",
    "Metric",
    "applies",
    "chunked",
    "for_run",
    "register",
    "scalar_names",
    "selected",
]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
