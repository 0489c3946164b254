"""Image quality without downloads, in the features of the domain classifier
(gan_cli.metrics.domain_classifier) of labelled image data.

- `fid/classifier`: the Frechet distance between Gaussians fitted to the held-out real
  and the generated images' penultimate features (the "domain FID" of MNIST-like data);
- `prdc/precision|recall|density|coverage` (Kynkaanniemi et al. 2019; Naeem et al.
  2020) in the same features, with k nearest neighbours (`metrics.prdc_k`): precision
  and density say how many fakes look real, recall and coverage how much of the real
  data the fakes reach;
- `classes/covered`: classes that receive at least 1% of the generated images, and
  `classes/kl`: KL(generated class histogram || the data's), both from the classifier's
  predictions;
- `classes/score`: the Inception score's formula, exp(E_x KL(p(y|x) || p(y))), with the
  domain classifier's p(y|x): from 1 (every image the same class, or every image
  unsure) to the number of classes (each image sure of its class, the classes equally
  often); the real data's own score (its `floor/classes/score`) is the ceiling to read
  it against.

The real data's own scores (as many training images as held-out ones) are logged once,
at a run's first evaluation, as `floor/<key>`.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from gan_cli.data.base import IMAGES
from gan_cli.metrics import domain_classifier
from gan_cli.metrics.base import Evaluation, register

log = logging.getLogger(__name__)

COVERED = 0.01  # a class is covered when it gets at least this share of the fakes
_ANNOUNCED: set = set()  # (classifier, data) whose floor this process printed
_SHRUNK: set = set()  # values of k this process warned about
PRDC = ("prdc/precision", "prdc/recall", "prdc/density", "prdc/coverage")
CLASSES = ("classes/covered", "classes/kl", "classes/score")
FLOOR = tuple(f"floor/{k}" for k in ("fid/classifier", *PRDC, *CLASSES))


def frechet_distance(x: Tensor, y: Tensor) -> float:
    """||mu_x - mu_y||^2 + tr(S_x + S_y - 2 (S_x S_y)^(1/2)) between Gaussians fitted to
    features x (N, D) and y (M, D). tr((S_x S_y)^(1/2)) is the sum of the square roots of
    the eigenvalues of S_x S_y (real and >= 0 for covariance matrices, up to rounding)."""
    x, y = x.double(), y.double()
    s_x, s_y = torch.cov(x.T), torch.cov(y.T)
    root_eigs = torch.linalg.eigvals(s_x @ s_y).real.clamp(min=0).sqrt()
    mean_term = (x.mean(0) - y.mean(0)).square().sum()
    return (mean_term + s_x.trace() + s_y.trace() - 2 * root_eigs.sum()).item()


def prdc(real: Tensor, fake: Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of fake features (M, D) against real
    ones (N, D), as the `prdc` package computes them (strict < against the k-th
    nearest-neighbour radius, the point itself not counted). With k or fewer samples on
    a side, k shrinks to fit (with a warning): a tiny held-out set still gets numbers."""
    fits = min(k, len(real) - 1, len(fake) - 1)
    if fits < 1:
        return dict.fromkeys(PRDC, float("nan"))
    if fits < k and k not in _SHRUNK:
        _SHRUNK.add(k)
        log.warning(
            "prdc: %d real and %d fake samples; k=%d instead of %d", len(real), len(fake), fits, k
        )
    k = fits
    real_radii = _kth_neighbour(real, k)  # (N,)
    fake_radii = _kth_neighbour(fake, k)  # (M,)
    d = torch.cdist(real.double(), fake.double())  # (N, M)
    inside_real = d < real_radii[:, None]  # fake j within real i's ball
    return {
        "prdc/precision": inside_real.any(dim=0).double().mean().item(),
        "prdc/recall": (d < fake_radii[None, :]).any(dim=1).double().mean().item(),
        "prdc/density": (inside_real.double().sum(dim=0) / k).mean().item(),
        "prdc/coverage": (d.min(dim=1).values < real_radii).double().mean().item(),
    }


def _kth_neighbour(x: Tensor, k: int) -> Tensor:
    """The distance of each row of x (N, D) to its k-th nearest other row."""
    d = torch.cdist(x.double(), x.double())
    return d.kthvalue(k + 1, dim=1).values  # the 1st is the row itself, at 0


def domain_score(probs: Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) of class probabilities p(y|x) (N, K), p(y) their mean
    over x: the Inception score's formula (Salimans et al. 2016) in any classifier."""
    probs = probs.double()
    marginal = probs.mean(dim=0, keepdim=True)
    terms = torch.where(probs > 0, probs * (probs / marginal).log(), torch.zeros_like(probs))
    return terms.sum(dim=1).mean().exp().item()


def class_balance(predicted: Tensor, frequencies: Tensor) -> dict[str, float]:
    """`classes/covered` and `classes/kl` of predicted classes (N,) of generated images,
    against the data's class frequencies (K,)."""
    counts = torch.bincount(predicted.cpu(), minlength=len(frequencies)).double()
    p = counts / counts.sum()
    seen = p > 0
    kl = (p[seen] * (p[seen] / frequencies.double()[seen]).log()).sum()
    return {"classes/covered": float((p >= COVERED).sum()), "classes/kl": kl.item()}


@register(
    "classifier",
    keys=("fid/classifier", *PRDC, *CLASSES, *FLOOR),
    kinds=(IMAGES,),
    fits=lambda data, objective: data.labels is not None and data.digits is None,
    live=("fid/classifier",),
)
def _classifier(ev: Evaluation) -> dict[str, float]:
    net = domain_classifier.for_data(ev.data, ev.settings.classifier_steps)
    out = {}
    if (net.path, id(ev.data)) not in _ANNOUNCED:  # once a run: what the numbers mean
        _ANNOUNCED.add((net.path, id(ev.data)))
        scores = floor(ev.data, net, ev.settings.prdc_k, ev.seed)
        out = {f"floor/{k}": v for k, v in scores.items()}
        log.info(
            "domain classifier: test accuracy %.2f%% (%s); the data's own scores, "
            "training against held-out images: %s",
            100 * net.accuracy,
            net.path,
            ", ".join(f"{k} {v:.4g}" for k, v in scores.items()),
        )
    (real, _), (fake, predicted) = classify(ev, ev.data.heldout), classify(ev, ev.fake)
    return out | {
        "fid/classifier": frechet_distance(real, fake),
        **prdc(real, fake, ev.settings.prdc_k),
        **class_balance(predicted, ev.data.labels.frequencies()),
        "classes/score": domain_score(read(ev, ev.fake)[1]),
    }


def classify(ev: Evaluation, images) -> tuple[Tensor, Tensor]:
    """The domain classifier's (features, predicted classes) of the held-out images or
    of the evaluation's fakes, computed once an evaluation for every metric that reads
    them."""
    feats, probs = read(ev, images)
    return feats, probs.argmax(dim=1)


def read(ev: Evaluation, images) -> tuple[Tensor, Tensor]:
    """(features, class probabilities) of `images`, once an evaluation."""
    key = ("classifier", id(images))
    if key not in ev.cache:
        net = domain_classifier.for_data(ev.data, ev.settings.classifier_steps)
        ev.cache[key] = net.read(images)
    return ev.cache[key]


def floor(data, net: domain_classifier.Classifier, k: int, seed: int) -> dict[str, float]:
    """The scores of as many real training images as held-out ones: what a generator
    that draws the data itself gets, the floor (or ceiling) each metric is read against."""
    pick = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))
    real_train = data.train[pick[: len(data.heldout)]].float() / 127.5 - 1
    real, _ = net(data.heldout)
    same, probs = net.read(real_train)
    scores = {"fid/classifier": frechet_distance(real, same), **prdc(real, same, k)}
    balance = class_balance(probs.argmax(dim=1), data.labels.frequencies())
    return scores | balance | {"classes/score": domain_score(probs)}
