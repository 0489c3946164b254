"""15. The domain classifier's first training (gan_cli.metrics.domain_classifier): its
seconds on a CIFAR-10-sized set (50,000 3x32x32 images of random pixels: the time does
not depend on what they show) and, where Debian's Fashion-MNIST is at hand, its seconds
and test accuracy on real images. Trained afresh (no cache), with the recipe's steps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import data_root
from bench.conditional import fashion


def _train(data, steps: int) -> dict[str, Any]:
    from gan_cli.metrics import domain_classifier

    start = time.perf_counter()
    net = domain_classifier.train(
        data.train, data.labels.train, len(data.labels.names), steps, "cpu"
    )
    trained = time.perf_counter() - start
    accuracy = domain_classifier.test_accuracy(net, data.test, data.labels.test)
    return {
        "train_s": trained,
        "test_s": time.perf_counter() - start - trained,
        "test_accuracy": accuracy,
        "images": len(data.train),
    }


def classifier(quick: bool, work: Path) -> dict[str, Any]:
    from gan_cli.config.compose import compose_config
    from gan_cli.data.official import CIFAR10, FashionMNIST

    steps = 100 if quick else compose_config([]).metrics.classifier_steps
    out: dict[str, Any] = {"steps": steps}
    out["cifar10-sized (random pixels)"] = _train(
        CIFAR10(str(data_root(work / "data")), download=False), steps
    )
    root = fashion(work)
    if root is not None:
        out["fashion_mnist"] = _train(FashionMNIST(str(root), download=False), steps)
    return out
