"""FID, KID and the Inception score on demand, through torchmetrics and torch-fidelity
with torch-fidelity's InceptionV3 (the network of the original FID and Inception-score
code): FID and KID of its 2048-d pool features, the Inception score (`is`, Salimans et
al. 2016) of its 1008 logits, with torch-fidelity's own formula (10 splits); the real
images' own score is its ceiling (`floor/is`).

The Inception weights are downloaded once and cached by torch (WEIGHTS_URL), or read
from a copy of that file (`metrics.inception_weights=PATH`) on machines without
network. Features are computed once and fed to every metric.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from gan_cli.core.console import phase
from gan_cli.core.errors import one_line
from gan_cli.data.base import IMAGES
from gan_cli.metrics.base import Evaluation, register
from gan_cli.models.conditional import draw

log = logging.getLogger(__name__)

WEIGHTS_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)


# the layers read in one pass: FID's and KID's pool features, the Inception score's logits
# (torch-fidelity's "logits_unbiased": the classifier without its bias, as the original code)
LAYERS = ("2048", "logits_unbiased")


class InceptionUnavailable(Exception):
    """The Inception weights could neither be downloaded nor read."""


def inception(weights_path: str | None = None) -> nn.Module:
    """The standard FID feature extractor, uint8 (N, 3, H, W) -> the LAYERS, in eval mode
    and without gradients (torch-fidelity's network, as torchmetrics wraps it)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    said = io.StringIO()  # torch.hub's "Downloading: ..." notice: shown only if it worked,
    try:  # a failure is the one warning line of its caller
        with contextlib.redirect_stderr(said):
            extractor = FeatureExtractorInceptionV3(
                name="inception-v3-compat",
                features_list=list(LAYERS),
                feature_extractor_weights_path=weights_path,
            )
        sys.stderr.write(said.getvalue())
        return extractor.eval().requires_grad_(False)
    except Exception as e:  # no network (URLError), a bad file (OSError, RuntimeError), ...
        reason = one_line(e)[:120]
        raise InceptionUnavailable(
            f"the Inception weights did not load ({type(e).__name__}: {reason}); on a machine "
            f"without network, download {WEIGHTS_URL} elsewhere and give its path"
        ) from e


@torch.no_grad()
def features(
    extractor: nn.Module, batches: Iterable[Tensor], done: Callable[[int], None] = lambda n: None
) -> tuple[Tensor, Tensor]:
    """Pool features (N, 2048) and logits (N, 1008) of image batches in [-1, 1], as uint8
    RGB for the extractor; `done(n)` is told of each batch's n images."""
    pool, logits = [], []
    for x in batches:
        x = ((x.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        if x.shape[1] == 1:  # grayscale, as Inception reads it
            x = x.expand(-1, 3, -1, -1)
        f, y = extractor(x)  # every layer asked for, in the order of LAYERS
        pool.append(f.double().cpu())
        logits.append(y.double().cpu())
        done(len(x))
    return torch.cat(pool), torch.cat(logits)


def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """The Inception score exp(E_x KL(p(y|x) || p(y))) of logits (N, classes), its mean
    and std over `splits` parts: torch-fidelity's computation (its shuffle and seed)."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    out = isc_features_to_metric(logits, splits=min(splits, len(logits)))
    return out["inception_score_mean"], out["inception_score_std"]


class _Given(nn.Module):
    """Hands precomputed features to torchmetrics in place of a network."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        return x


def fid_kid(real: Tensor, fake: Tensor, kid_subsets: int = 100, kid_subset_size: int = 1000):
    """FID and KID (mean, std over subsets) from features real (N, D) and fake (M, D)."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    given = _Given(real.shape[1])
    fid = FrechetInceptionDistance(feature=given).double()
    size = min(kid_subset_size, len(real), len(fake))
    with warnings.catch_warnings():  # it warns that it keeps the features: that is the point
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=given, subsets=kid_subsets, subset_size=size)
    for metric in (fid, kid):
        metric.update(real, real=True)
        metric.update(fake, real=False)
    kid_mean, kid_std = kid.compute()
    return fid.compute().item(), kid_mean.item(), kid_std.item()


def score(
    generator: nn.Module,
    reference: Tensor,
    n_samples: int,
    extractor: nn.Module,
    seed: int = 0,
    batch_size: int = 250,
    classes: Any = None,
) -> dict[str, float]:
    """FID and KID of `n_samples` generated images against up to n_samples real uint8
    images of `reference` (N, C, H, W), and the Inception score of both; a conditional
    generator's of classes drawn from the data's frequencies (`classes`,
    gan_cli.training.conditioning.Classes)."""
    device = next(generator.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    real = reference[:n_samples]
    counts = [min(batch_size, n_samples - i) for i in range(0, n_samples, batch_size)]
    was_training = generator.training
    generator.eval()
    with phase("FID features", n_samples + len(real), "images") as done:
        try:
            fake_batches = (draw(generator, n, gen, device, classes) for n in counts)
            fake_features, fake_logits = features(extractor, fake_batches, done)
        finally:
            generator.train(was_training)
        real_batches = (r.to(device).float() / 127.5 - 1 for r in real.split(batch_size))
        real_features, real_logits = features(extractor, real_batches, done)
    fid, kid, kid_std = fid_kid(real_features, fake_features)
    (is_mean, is_std), (is_real, _) = inception_score(fake_logits), inception_score(real_logits)
    return {
        "fid": fid,
        "kid": kid,
        "kid/std": kid_std,
        "fid/n_samples": float(n_samples),
        "is": is_mean,
        "is/std": is_std,
        "floor/is": is_real,
    }


@register(
    "fid",
    keys=("fid", "kid", "kid/std", "fid/n_samples", "fid/reference", "is", "is/std", "floor/is"),
    kinds=(IMAGES,),
    at_end=True,
)
def _fid(ev: Evaluation) -> dict:
    """At the end of training (metrics.fid=true); without Inception weights, a warning
    and nothing: training itself is not affected."""
    m = ev.settings
    try:
        extractor = inception(m.inception_weights).to(ev.data.heldout.device)
    except InceptionUnavailable as e:
        log.warning("metrics.fid: no FID/KID, %s (metrics.inception_weights=PATH)", e)
        return {}
    real = ev.data.reference(m.reference)
    scores = score(ev.generator, real, m.n_samples, extractor, ev.seed, classes=ev.classes)
    return {**scores, "fid/reference": m.reference}
