"""How well a class-conditional generator draws the class it is asked for, in the
domain classifier's view (gan_cli.metrics.domain_classifier):

- `classes/accuracy`: the share of generated images the classifier assigns to the class
  they were generated for (chance: about 1/K; the classifier's own test accuracy is
  the ceiling);
- `fid/classifier_per_class`: the mean over classes of the Frechet distance, in the
  classifier's features, between the held-out real images of a class and the generated
  ones of that class; `fid/classifier_worst` is the largest, and
  `fid/classifier_worst_class` names its class. With about N/K images a class, each
  class's distance carries more small-sample bias than `fid/classifier`: compare it
  between runs of the same held-out size, not with the unconditional number.

On Stacked MNIST (1,000 classes) only the accuracy, each channel read as a digit.
"""

from __future__ import annotations

from torch import Tensor

from gan_cli.data.base import IMAGES
from gan_cli.metrics import domain_classifier
from gan_cli.metrics.base import Evaluation, register
from gan_cli.metrics.classifier import classify, frechet_distance
from gan_cli.metrics.stacked import stack_modes

PER_CLASS = ("fid/classifier_per_class", "fid/classifier_worst", "fid/classifier_worst_class")


@register(
    "conditional",
    keys=("classes/accuracy", *PER_CLASS),
    kinds=(IMAGES,),
    fits=lambda data, objective: data.labels is not None,
    conditional=True,
    live=("classes/accuracy",),
)
def _conditional(ev: Evaluation) -> dict[str, float | str]:
    if ev.data.digits is not None:  # stacked: each channel read as a digit; 1,000 classes
        net = domain_classifier.for_data(ev.data.digits, ev.settings.classifier_steps)
        predicted = stack_modes(net, ev.fake)  # far too few images a class for a FID
        return {"classes/accuracy": accuracy(predicted, ev.fake_labels)}
    (real, _), (fake, predicted) = classify(ev, ev.data.heldout), classify(ev, ev.fake)
    asked = ev.fake_labels.to(predicted.device)
    return {
        "classes/accuracy": accuracy(predicted, asked),
        **per_class_fid(real, ev.data.heldout_labels, fake, asked, ev.classes.names),
    }


def accuracy(predicted: Tensor, asked: Tensor) -> float:
    """The share of images (N,) whose predicted class is the one asked for."""
    return (predicted == asked.to(predicted.device)).double().mean().item()


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
