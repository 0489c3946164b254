"""9. Class-conditional against unconditional DCGAN on Fashion-MNIST, on the same budget
(steps, batch, optimizer, seed): image quality and coverage in the domain classifier's
features (`fid/classifier`, `prdc/coverage`), and how often the classifier recognises
the class a conditional generator was asked for (`classes/accuracy`, with the per-class
FID). The projection run's last sample grid (one row per class) is kept beside the
results for the README.

The images are real: Fashion-MNIST from Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist), or GAN_BENCH_FASHION naming a folder that holds
FashionMNIST/raw/. Without either the part is skipped and says why."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any

from bench.common import RESULTS
from bench.stacked import FASHION

CONFIGS = {  # the same DCGAN and non-saturating loss, with and without the labels
    "dcgan": [],
    "dcgan projection": ["model.conditional=projection"],
    "dcgan acgan": ["model.conditional=acgan"],
}
GRID = "conditional_grid.png"
SCALARS = (
    "fid/classifier",
    "prdc/precision",
    "prdc/coverage",
    "classes/covered",
    "classes/accuracy",
    "fid/classifier_per_class",
    "fid/classifier_worst",
    "fid/classifier_worst_class",
)


def fashion(work: Path) -> Path | None:
    """data.root of the Fashion-MNIST files at hand, or None."""
    given = os.environ.get("GAN_BENCH_FASHION")
    if given and (Path(given) / "FashionMNIST" / "raw").is_dir():
        return Path(given)
    if not FASHION.is_dir():
        return None
    root = work / "fashion_data"
    (root / "FashionMNIST").mkdir(parents=True, exist_ok=True)
    link = root / "FashionMNIST" / "raw"
    if not link.exists():
        link.symlink_to(FASHION)
    return root


def command(name: str, steps: int, seed: int) -> list[str]:
    """The gan-train overrides of one run: what the README shows."""
    conditional = name != "dcgan"
    return [
        "data=fashion_mnist",
        "model=dcgan",
        "loss=vanilla",
        *CONFIGS[name],
        f"trainer.steps={steps}",
        f"trainer.seed={seed}",
        "trainer.eval_every=0",
        "trainer.sample_every=0",
        f"metrics.eval=[classifier{',conditional' if conditional else ''}]",
    ]


def _run(job: tuple[str, int, int, str, str]) -> dict[str, Any]:

    from bench.common import config, timed_train

    name, seed, steps, root, run_dir = job
    cfg = config(
        *command(name, steps, seed),
        f"data.root={root}",
        "data.download=false",
        "trainer.threads=1",  # one process per core
        "trainer.log_every=100",
        "logger=none",
        "trainer.device=cpu",
    )
    seconds, metrics = timed_train(cfg, Path(run_dir))
    grid = Path(run_dir) / "samples" / f"step_{steps:07d}.png"
    scores = {k: metrics[k] for k in SCALARS if k in metrics}
    return {"config": name, "seed": seed, **scores, "seconds": seconds, "grid": str(grid)}


def conditional(quick: bool, work: Path) -> dict[str, Any]:
    root = fashion(work)
    if root is None:
        return {"skipped": f"no Fashion-MNIST (GAN_BENCH_FASHION, {FASHION})"}
    steps, seeds = (100, (0,)) if quick else (1000, (0,))
    accuracy = _classifier(root)  # trained once, before the runs share it
    jobs = [
        (n, s, steps, str(root), str(work / "conditional" / f"{n.replace(' ', '_')}-{s}"))
        for n in CONFIGS
        for s in seeds
    ]
    with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        runs = sorted(
            pool.imap_unordered(_run, jobs), key=lambda r: list(CONFIGS).index(r["config"])
        )
    if not quick:
        grid = next(r["grid"] for r in runs if r["config"] == "dcgan projection")
        shutil.copyfile(grid, RESULTS / GRID)
    return {
        "steps": steps,
        "seeds": list(seeds),
        "classifier_accuracy": accuracy,
        "commands": {n: command(n, steps, seeds[0]) for n in CONFIGS},
        "runs": [{k: v for k, v in r.items() if k != "grid"} for r in runs],
    }


def _classifier(root: Path) -> float:
    """Fashion-MNIST's domain classifier (trained and cached on first use): its accuracy."""
    from gan_cli.config.compose import compose_config
    from gan_cli.data.official import FashionMNIST
    from gan_cli.metrics import domain_classifier

    steps = compose_config([]).metrics.classifier_steps
    return domain_classifier.for_data(FashionMNIST(str(root), download=False), steps).accuracy
