"""gan-sample's `metrics=true`: the metrics of a checkpoint's samples against the run's
real data: for images, in the domain classifier's features and Inception's; for toy
points, the run's own measures, taken as the run takes them."""

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
    """The metrics of `n` samples (from `seed`) against the run's real data `data`.

    Images: in the domain classifier's features on labelled data (`fid/classifier`,
    `prdc/*`, `classes/*`; on Stacked MNIST `modes/*`), with the data's own scores beside
    them (`floor`), and FID and KID where the Inception weights load. Points (a toy run):
    the run's own measures as its evaluations take them, so the numbers compare with its
    metrics.jsonl: `wasserstein/exact` between as many generated points as the held-out
    set holds and the held-out points (n is not used), and on the Gaussian mixtures
    (ring8, grid25) `modes/captured` and `modes/hq_fraction` on 2,500 samples.

    `settings` is the run's `metrics` node. Built before any sampling, so unlabelled
    images without Inception weights stop gan-sample before it writes anything."""

    DOMAIN = ("classifier", "stacked_modes", "conditional")  # the registered metrics it reports
    NAMES = (*DOMAIN, "fid")  # what `only` may pick
    POINTS = ("exact_w1", "modes")  # a toy run's measures (those that need no critic)

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

        images = data.kind == IMAGES
        names = self.NAMES if images else self.POINTS
        unknown = [name for name in only or () if name not in names]
        if unknown:
            raise UserError(
                f"metrics: {unknown[0]} is not one of {'|'.join(names)} (for {data.kind})"
            )
        picked = names if only is None else only
        self.settings, self.data = settings, data
        conditional = classes is not None
        self.domain = [
            REGISTRY[n]
            for n in (self.DOMAIN if images else self.POINTS)
            if n in picked and applies(REGISTRY[n], self.data, None, conditional)
        ]
        self.classes = classes
        self.extractor = None
        self._floor = None
        self.n, self.seed, self.device = n, seed, device
        if not images:
            if not self.domain:  # modes alone, asked of data without modes
                raise UserError(f"metrics: {picked[0]} does not apply to this data")
            return
        weights = inception_weights or settings.inception_weights
        try:
            if "fid" in picked:
                self.extractor = inception(weights).to(device)
        except InceptionUnavailable as e:
            if not self.domain:
                raise UserError(f"metrics=true: {e} (inception_weights=PATH)") from e
            log.warning("metrics=true: no FID/KID, %s (inception_weights=PATH)", e)

    def __call__(self, G: nn.Module, truncation: float | None = None) -> dict[str, Any]:
        """The scores of G's samples; with `truncation`, of its samples from latents
        truncated at it (gan_cli.trained.sampling.truncate), recorded as `truncation`."""
        from gan_cli.metrics.classifier import floor
        from gan_cli.metrics.fid import score
        from gan_cli.trained.sampling import Truncated

        if truncation is not None:  # its own stream: the untruncated latents stay the same
            rng = torch.Generator(device=self.device).manual_seed(self.seed + 3)
            G = Truncated(G, truncation, rng)

        seed, scores = self.seed, {}
        n = self.n if self.data.kind == IMAGES else len(self.data.heldout)  # the run's protocol
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
            if self._floor is None:  # the data's own: the same at every call (truncation)
                self._floor = floor(self.data, net, self.settings.prdc_k, seed)
            scores["floor"] = self._floor
            scores["classifier/accuracy"] = net.accuracy
        if self.extractor is not None:
            reference = self.settings.reference
            real = self.data.reference(reference)
            scores |= score(G, real, n, self.extractor, seed, classes=self.classes)
            scores["fid/reference"] = reference
        if truncation is not None:
            scores["truncation"] = truncation
        return scores
