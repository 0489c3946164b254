"""How well a class-conditional generator draws the class it is asked for, in the
domain classifier's view (gan_cli.classifier):

- `classes/accuracy`: the share of generated images the classifier assigns to the class
  they were generated for (chance: about 1/K; the classifier's own test accuracy is
  the ceiling);
- `fid/classifier_per_class`: the mean over classes of the Frechet distance, in the
  classifier's features, between the held-out real images of a class and the generated
  ones of that class; `fid/classifier_worst` is the largest, and
  `fid/classifier_worst_class` names its class. With about N/K images a class, each
  class's distance carries more small-sample bias than `fid/classifier`: compare it
  between runs of the same held-out size, not with the unconditional number.
"""

from __future__ import annotations

from gan_cli.data.base import IMAGES
from gan_cli.metrics import Evaluation, register
from gan_cli.metrics.classifier import classify, frechet_distance

PER_CLASS = ("fid/classifier_per_class", "fid/classifier_worst", "fid/classifier_worst_class")


@register(
    "conditional",
    keys=("classes/accuracy", *PER_CLASS),
    kinds=(IMAGES,),
    fits=lambda data, objective: data.labels is not None and data.digits is None,
    conditional=True,
    live=("classes/accuracy",),
)
def _conditional(ev: Evaluation) -> dict[str, float | str]:
    (real, _), (fake, predicted) = classify(ev, ev.data.heldout), classify(ev, ev.fake)
    asked = ev.fake_labels.to(predicted.device)
    return {
        "classes/accuracy": (predicted == asked).double().mean().item(),
        **per_class_fid(real, ev.data.heldout_labels, fake, asked, ev.classes.names),
    }


def per_class_fid(real, real_labels, fake, fake_labels, names) -> dict[str, float | str]:
    """The Frechet distance of each class's features, real (N, D) of labels (N,) against
    fake (M, D) of labels (M,): their mean, the largest and its class's name. Classes
    with fewer than 2 images on a side have no covariance and are left out."""
    real_labels, fake_labels = real_labels.to(real.device), fake_labels.to(fake.device)
    distances = {}
    for k, name in enumerate(names):
        r, f = real[real_labels == k], fake[fake_labels == k]
        if len(r) >= 2 and len(f) >= 2:
            distances[name] = frechet_distance(r, f)
    if not distances:
        return {}
    worst = max(distances, key=distances.get)
    return {
        "fid/classifier_per_class": sum(distances.values()) / len(distances),
        "fid/classifier_worst": distances[worst],
        "fid/classifier_worst_class": worst,
    }
