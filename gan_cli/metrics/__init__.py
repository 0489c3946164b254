"""Metrics computed outside the training graph, registered by name. One family a file.

Each family is registered with `@register(name, keys=..., kinds=...)`: the scalars it
logs, the data kinds it applies to (gan_cli.data.base), whether it runs at every
evaluation or only at the end, and which of its scalars the progress bar shows. The
config list `metrics.eval` picks families by name (null: every one that fits the data
and the objective); the loop, the console, the sweep summary and the README's table
read this one registry. Every module of this package is imported here, so adding a
metric is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from gan_cli.errors import UserError
from gan_cli.packing import pack


@dataclass
class Evaluation:
    """What a metric may read at one evaluation. Networks are in eval mode. The critic
    scores packs of `pack` samples (gan_cli.packing; 1: single samples)."""

    generator: nn.Module
    critic: nn.Module
    objective: Any  # gan_cli.losses.Objective
    data: Any  # gan_cli.data.base.DataSource
    fake: Tensor  # as many fresh generated samples as data.heldout, (N, *shape)
    rng: torch.Generator  # the evaluation's own noise
    settings: DictConfig  # the `metrics` config node
    seed: int
    pack: int = 1

    @cached_property
    def critic_out(self) -> tuple[Tensor, Tensor]:
        """The critic's outputs on the held-out real samples and on the fakes, computed
        once for every metric that reads them (one output a pack)."""
        m = self.pack
        return chunked(self.critic, pack(self.data.heldout, m)), chunked(
            self.critic, pack(self.fake, m)
        )


def chunked(net: Any, x: Tensor, size: int = 500) -> Tensor:
    """net(x) in chunks of `size`, so evaluation memory stays that of a batch."""
    with torch.no_grad():
        return torch.cat([net(part) for part in x.split(size)])


@dataclass(frozen=True)
class Metric:
    name: str
    keys: tuple[str, ...]  # the scalars it may log
    kinds: tuple[str, ...]  # the data kinds it applies to
    compute: Callable[[Evaluation], dict[str, Any]]
    fits: Callable[[Any, Any], bool]  # (data, objective) -> whether it applies to this run
    at_end: bool  # only at the final step (costly), not at every evaluation
    live: tuple[str, ...]  # shown on the progress bar


REGISTRY: dict[str, Metric] = {}


def register(
    name: str,
    keys: tuple[str, ...],
    kinds: tuple[str, ...],
    fits: Callable[[Any, Any], bool] = lambda data, objective: True,
    at_end: bool = False,
    live: tuple[str, ...] = (),
) -> Callable[[Callable[[Evaluation], dict]], Callable[[Evaluation], dict]]:
    """Register `compute(evaluation) -> {scalar name: value}` as the metric `name`."""

    def add(compute: Callable[[Evaluation], dict]) -> Callable[[Evaluation], dict]:
        REGISTRY[name] = Metric(name, keys, kinds, compute, fits, at_end, live)
        return compute

    return add


def scalar_names() -> list[str]:
    """Every scalar any registered metric may log, in registry order."""
    return [key for metric in REGISTRY.values() for key in metric.keys]


def selected(settings: DictConfig, kind: str) -> list[Metric]:
    """The metrics a run computes: `metrics.eval` (null: every evaluation metric for this
    kind of data), plus `fid` with `metrics.fid=true`. One line for a name that is not
    registered or does not apply to this kind of data."""
    names = list(settings.eval) if settings.eval is not None else None
    if names is None:
        names = [m.name for m in REGISTRY.values() if kind in m.kinds and not m.at_end]
    if settings.fid and "fid" not in names:
        names.append("fid")
    chosen = []
    for name in names:
        key = "metrics.fid=true" if name == "fid" and settings.fid else f"metrics.eval: {name}"
        if name not in REGISTRY:
            raise UserError(f"{key} is not a metric; choose from {'|'.join(REGISTRY)}")
        metric = REGISTRY[name]
        if kind not in metric.kinds:
            fits = " or ".join(metric.kinds)
            raise UserError(f"{key} applies to {fits} only; this data holds {kind}")
        chosen.append(metric)
    return chosen


def for_run(settings: DictConfig, data: Any, objective: Any) -> list[Metric]:
    """`selected`, less the defaults that do not apply to this data or objective (modes
    without a mixture, a held-out estimate without an estimate); a metric asked for by
    name that does not apply is one line."""
    chosen = selected(settings, data.kind)
    for metric in chosen:
        if settings.eval is not None and not metric.fits(data, objective):
            raise UserError(f"metrics.eval: {metric.name} does not apply to this data or loss")
    return [m for m in chosen if m.fits(data, objective)]


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
