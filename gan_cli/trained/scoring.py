"""gan-sample's `metrics=true`: the image metrics of a checkpoint's samples against the
run's real images."""

from __future__ import annotations

import logging
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

from gan_cli import metrics
from gan_cli.core.errors import UserError
from gan_cli.data.base import IMAGES, DataSource
from gan_cli.metrics import REGISTRY, applies, domain_classifier
from gan_cli.training.conditioning import Classes

log = logging.getLogger(__name__)


class Scorer:
    """The image metrics of `n` samples (from `seed`) against the run's real images `data`:
    in the domain classifier's features on labelled data (`fid/classifier`, `prdc/*`,
    `classes/*`; on Stacked MNIST `modes/*`), with the data's own scores beside them
    (`floor`), and FID and KID where the Inception weights load. `settings` is the run's
    `metrics` node. Built before any sampling, so data of points, or unlabelled images
    without Inception weights, stop gan-sample before it writes anything."""

    DOMAIN = ("classifier", "stacked_modes", "conditional")  # the registered metrics it reports
    NAMES = (*DOMAIN, "fid")  # what `only` may pick

    def __init__(
        self,
        data: DataSource,
        settings: DictConfig,
        n: int,
        seed: int,
        inception_weights: str | None,
        device: torch.device,
        classes: Classes | None,
        only: list[str] | None = None,
    ) -> None:
        from gan_cli.metrics.fid import InceptionUnavailable, inception

        if data.kind != IMAGES:
            raise UserError(
                f"metrics=true: metrics need image data; this checkpoint holds {data.kind}"
            )
        unknown = [name for name in only or () if name not in self.NAMES]
        if unknown:
            raise UserError(f"metrics: {unknown[0]} is not one of {'|'.join(self.NAMES)}")
        picked = self.NAMES if only is None else only
        self.settings, self.data = settings, data
        conditional = classes is not None
        self.domain = [
            REGISTRY[n]
            for n in self.DOMAIN
            if n in picked and applies(REGISTRY[n], self.data, None, conditional)
        ]
        self.classes = classes
        self.extractor = None
        weights = inception_weights or settings.inception_weights
        try:
            if "fid" in picked:
                self.extractor = inception(weights).to(device)
        except InceptionUnavailable as e:
            if not self.domain:
                raise UserError(f"metrics=true: {e} (inception_weights=PATH)") from e
            log.warning("metrics=true: no FID/KID, %s (inception_weights=PATH)", e)
        self.n, self.seed, self.device = n, seed, device

    def __call__(self, G: nn.Module) -> dict[str, Any]:
        from gan_cli.metrics.classifier import floor
        from gan_cli.metrics.fid import score

        n, seed, scores = self.n, self.seed, {}
        if self.domain:
            rng = torch.Generator(device=self.device).manual_seed(seed)
            z = torch.randn(n, G.z_dim, generator=rng, device=self.device)
            y = None if self.classes is None else self.classes.draw(n, self.device, rng)
            fake = metrics.chunked(G, z, y)
            ev = metrics.Evaluation(
                G,
                None,
                None,
                self.data,
                fake,
                rng,
                self.settings,
                seed,
                fake_labels=y,
                classes=self.classes,
            )
            for metric in self.domain:
                scores.update(metric.compute(ev))
        if REGISTRY["classifier"] in self.domain:
            net = domain_classifier.for_data(self.data, self.settings.classifier_steps)
            scores["floor"] = floor(self.data, net, self.settings.prdc_k, seed)
            scores["classifier/accuracy"] = net.accuracy
        if self.extractor is not None:
            reference = self.settings.reference
            real = self.data.reference(reference)
            scores |= score(G, real, n, self.extractor, seed, classes=self.classes)
            scores["fid/reference"] = reference
        return scores
