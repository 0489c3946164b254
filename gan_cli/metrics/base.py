"""The metric registry: what a metric is (`Metric`), what it reads at an evaluation
(`Evaluation`), `register`, and which metrics a run computes (`selected`, `for_run`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from gan_cli.core.errors import UserError
from gan_cli.data.base import DataSource
from gan_cli.models.conditional import draw
from gan_cli.models.pacgan import pack


@dataclass
class Evaluation:
    """What a metric may read at one evaluation. Networks are in eval mode. The critic
    scores packs of `pack_size` samples (gan_cli.models.pacgan; 1: single samples). A conditional
    generator (`classes`, gan_cli.training.conditioning) made the fakes of classes `fake_labels`
    (N,), drawn from the data's class frequencies; its critic judges each image at its
    class (the held-out ones at their labels)."""

    generator: nn.Module
    critic: nn.Module
    objective: Any  # gan_cli.losses.Objective
    data: DataSource  # gan_cli.data.base.DataSource
    fake: Tensor  # as many fresh generated samples as data.heldout, (N, *shape)
    rng: torch.Generator  # the evaluation's own noise
    settings: DictConfig  # the `metrics` config node
    seed: int
    pack_size: int = 1  # PacGAN (loss.pack)
    fake_labels: Tensor | None = None
    classes: Any = None  # gan_cli.training.conditioning.Classes of a conditional generator, or None
    reconstructor: nn.Module | None = None  # F: x -> z of a GAN on pairs (loss=ali|veegan)
    cache: dict = field(default_factory=dict)  # what several metrics read, computed once

    @cached_property
    def critic_out(self) -> tuple[Tensor, Tensor]:
        """The critic's outputs on the held-out real samples and on the fakes, computed
        once for every metric that reads them (one output per pack)."""
        m, real_labels = self.pack_size, self.real_labels
        return chunked(self.critic, pack(self.data.heldout, m), real_labels), chunked(
            self.critic, pack(self.fake, m), self.fake_labels
        )

    @property
    def real_labels(self) -> Tensor | None:
        """The held-out samples' labels where the critic reads them (conditional); else None."""
        return None if self.classes is None else self.data.heldout_labels

    def draw(self, n: int) -> Tensor:
        """n fresh generated samples from the evaluation's noise (of classes drawn from
        the data's frequencies, for a conditional generator)."""
        return draw(self.generator, n, self.rng, self.data.heldout.device, self.classes)


def chunked(net: Any, x: Tensor, y: Tensor | None = None, size: int = 500) -> Tensor:
    """net(x) (net(x, y) with labels) in chunks of `size`, so evaluation memory stays
    that of a batch."""
    with torch.no_grad():
        if y is None:
            return torch.cat([net(part) for part in x.split(size)])
        return torch.cat([net(a, b) for a, b in zip(x.split(size), y.split(size), strict=True)])


@dataclass(frozen=True)
class Metric:
    name: str
    keys: tuple[str, ...]  # the scalars it may log
    kinds: tuple[str, ...]  # the data kinds it applies to
    compute: Callable[[Evaluation], dict[str, Any]]
    fits: Callable[[Any, Any], bool]  # (data, objective) -> whether it applies to this run
    at_end: bool  # only at the final step (costly), not at every evaluation
    live: tuple[str, ...]  # shown on the progress bar
    conditional: bool  # for class-conditional generators only


REGISTRY: dict[str, Metric] = {}


def register(
    name: str,
    keys: tuple[str, ...],
    kinds: tuple[str, ...],
    fits: Callable[[Any, Any], bool] = lambda data, objective: True,
    at_end: bool = False,
    live: tuple[str, ...] = (),
    conditional: bool = False,
) -> Callable[[Callable[[Evaluation], dict]], Callable[[Evaluation], dict]]:
    """Register `compute(evaluation) -> {scalar name: value}` as the metric `name`."""

    def add(compute: Callable[[Evaluation], dict]) -> Callable[[Evaluation], dict]:
        REGISTRY[name] = Metric(name, keys, kinds, compute, fits, at_end, live, conditional)
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


def for_run(settings: DictConfig, data: DataSource, objective: Any, conditional: bool = False):
    """`selected`, less the defaults that do not apply to this data, objective or
    generator (modes without a mixture, a held-out estimate without an estimate, class
    accuracy without a conditional generator); a metric asked for by name that does not
    apply is one line."""
    chosen = selected(settings, data.kind)
    for metric in chosen:
        if settings.eval is None:
            continue
        if not metric.fits(data, objective):
            raise UserError(f"metrics.eval: {metric.name} does not apply to this data or loss")
        if metric.conditional and not conditional:
            raise UserError(
                f"metrics.eval: {metric.name} applies to class-conditional generators only "
                "(model.conditional=projection|acgan)"
            )
    return [m for m in chosen if applies(m, data, objective, conditional)]


def applies(metric: Metric, data: DataSource, objective: Any, conditional: bool) -> bool:
    """Whether `metric` applies to this data, objective and kind of generator."""
    return metric.fits(data, objective) and (conditional or not metric.conditional)
