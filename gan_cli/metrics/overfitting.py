"""Overfitting and copying, on data sets with a finite training set (images):

- `health/rv`, ADA's validation heuristic (Karras et al. 2020, Sec. 3):
  (E D(train) - E D(held-out)) / (E D(train) - E D(generated)), the critic's outputs on
  as many training images as held-out ones, in eval mode. 0: the held-out images look
  like training images to the critic; 1: they look like generated ones, the critic has
  memorized its training set. Not for a conditional critic or a critic of pairs.
- `health/copy_rate`: the share of generated images nearer their nearest training image
  than the median held-out real image is to its nearest training image, in the domain
  classifier's features where the data has labels, else in pixels. A generator that
  draws fresh samples of the data scores 0.5; one that copies its training set, near 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_cli.data.base import IMAGES
from gan_cli.metrics.base import Evaluation, chunked, register
from gan_cli.metrics.classifier import read
from gan_cli.metrics.domain_classifier import for_data
from gan_cli.models.pacgan import pack

TRAIN_EXAMPLES = 10_000  # training images the copies are looked for among (the first ones)
PIXEL_SIDE = 32  # without a classifier, copies are looked for in pixels at this side at most
_FEATURES: dict[tuple, Tensor] = {}  # (classifier, data) -> the training images' features


@register("overfitting", keys=("health/rv", "health/copy_rate"), kinds=(IMAGES,))
def _overfitting(ev: Evaluation) -> dict[str, float]:
    out = {"health/copy_rate": copy_rate(*_features(ev))}
    # a conditional critic needs each training image's label, and a critic of pairs
    # (loss=ali|veegan) its code: r_v is read from a critic of images alone
    if ev.classes is None and ev.reconstructor is None:
        train = ev.data.first_examples(len(ev.data.heldout))
        d_train = chunked(ev.critic, pack(train, ev.pack_size)).float().mean()
        d_heldout, d_fake = (x.float().mean() for x in ev.critic_out)
        out["health/rv"] = ((d_train - d_heldout) / (d_train - d_fake)).item()
    return out


def _features(ev: Evaluation) -> tuple[Tensor, Tensor, Tensor]:
    """(generated, held-out, training) as the copies are measured: classifier features
    where the data has labels (stacked digits have none of their own), else pixels."""
    n = min(TRAIN_EXAMPLES, ev.data.n_examples)
    if ev.data.labels is None or ev.data.digits is not None:
        flat = [pixels(x) for x in (ev.fake, ev.data.heldout, ev.data.first_examples(n))]
        return flat[0], flat[1], flat[2]
    net = for_data(ev.data, ev.settings.classifier_steps)
    key = (net.path, id(ev.data))
    if key not in _FEATURES:  # the training set does not change during a run
        _FEATURES[key] = net.read(ev.data.first_examples(n))[0]
    return read(ev, ev.fake)[0], read(ev, ev.data.heldout)[0], _FEATURES[key]


def pixels(x: Tensor) -> Tensor:
    """Images (N, C, H, W) as rows of pixels, averaged down to at most PIXEL_SIDE a side
    (a copy is a copy at any size; a 256-pixel row would make the search 64 times dearer)."""
    if x.shape[-1] > PIXEL_SIDE:
        x = F.adaptive_avg_pool2d(x.float(), PIXEL_SIDE)
    return x.flatten(1).double()


def copy_rate(fake: Tensor, heldout: Tensor, train: Tensor) -> float:
    """The share of rows of `fake` (M, D) nearer their nearest row of `train` (N, D)
    than the median row of `heldout` (K, D) is to its nearest row of `train`."""
    gap = nearest(heldout, train).median()
    return (nearest(fake, train) < gap).double().mean().item()


def nearest(x: Tensor, train: Tensor, chunk: int = 1000) -> Tensor:
    """Each row's distance to its nearest row of `train` (N,), in chunks of rows."""
    return torch.cat([torch.cdist(part, train).min(dim=1).values for part in x.split(chunk)])
