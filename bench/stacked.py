"""7. Mode collapse on images: Stacked MNIST (1,000 modes), counted by the PacGAN
protocol (26,000 samples, each channel read by the domain classifier), beside the
published rows of PacGAN's Table 2.

The digits are real: MNIST when GAN_BENCH_MNIST names a folder that holds MNIST/raw/,
else Fashion-MNIST from Debian's dataset-fashion-mnist (/usr/share/datasets/), whose
ten kinds of clothing stand in for the ten digits (`data.base=fashion_mnist`). Without
either the part is skipped and says why."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

FASHION = Path("/usr/share/datasets/fashion-mnist")
CONFIGS = {  # the plain DCGAN, and PacGAN's packing of 2 and 4 on the same budget
    "dcgan": ["loss=vanilla", "model=dcgan"],
    "dcgan pack 2": ["loss=vanilla", "model=dcgan", "loss.pack=2"],
    "dcgan pack 4": ["loss=vanilla", "model=dcgan", "loss.pack=4"],
}
PUBLISHED = {  # PacGAN (Lin et al. 2018), Table 2: modes of 1,000 and KL to uniform
    "DCGAN (published)": (99.0, 3.40),
    "VEEGAN (published)": (150.0, 2.95),
    "PacDCGAN2 (published)": (1000.0, 0.06),
}


def digits(work: Path) -> tuple[Path, str] | None:
    """(data.root, data.base) of the real digits at hand, or None."""
    mnist = os.environ.get("GAN_BENCH_MNIST")
    if mnist and (Path(mnist) / "MNIST" / "raw").is_dir():
        return Path(mnist), "mnist"
    if FASHION.is_dir():
        root = work / "stacked_data"
        (root / "FashionMNIST").mkdir(parents=True, exist_ok=True)
        link = root / "FashionMNIST" / "raw"
        if not link.exists():
            link.symlink_to(FASHION)
        return root, "fashion_mnist"
    return None


def _run(job: tuple[str, int, int, int, str, str, str]) -> dict[str, Any]:

    from bench.common import config, timed_train

    name, seed, steps, samples, root, base, run_dir = job
    cfg = config(
        *CONFIGS[name],
        "data=stacked_mnist",
        "trainer.threads=1",  # one process per core
        f"data.root={root}",
        f"data.base={base}",
        "data.download=false",
        f"trainer.seed={seed}",
        f"trainer.steps={steps}",
        "trainer.eval_every=0",
        "trainer.sample_every=0",
        "trainer.log_every=100",
        f"metrics.stacked_samples={samples}",
        "metrics.eval=[stacked_modes]",
        "logger=none",
        "trainer.device=cpu",
    )
    seconds, metrics = timed_train(cfg, Path(run_dir))
    return {
        "config": name,
        "seed": seed,
        "modes/captured": metrics["modes/captured"],
        "modes/kl": metrics["modes/kl"],
        "seconds": seconds,
    }


def stacked(quick: bool, work: Path) -> dict[str, Any]:
    found = digits(work)
    if found is None:
        return {"skipped": f"no MNIST (GAN_BENCH_MNIST) and no {FASHION}"}
    root, base = found
    # one seed: a packed run takes up to 20 minutes on a core (two seeds of the plain
    # DCGAN gave 954 and 944 modes, KL 0.84 and 0.87)
    steps, seeds, samples = (200, (0,), 2600) if quick else (1500, (0,), 26_000)
    _classifier(root, base)  # trained once, before the runs share it
    jobs = [
        (
            n,
            s,
            steps,
            samples,
            str(root),
            base,
            str(work / "stacked" / f"{n.replace(' ', '_')}-{s}"),
        )
        for n in CONFIGS
        for s in seeds
    ]
    with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        runs = list(pool.imap_unordered(_run, jobs))
    return {
        "base": base,
        "steps": steps,
        "seeds": list(seeds),
        "samples": samples,
        "classifier_accuracy": _classifier(root, base),
        "runs": runs,
        "published": {k: {"modes/captured": m, "modes/kl": kl} for k, (m, kl) in PUBLISHED.items()},
    }


def _classifier(root: Path, base: str) -> float:
    """The digits' domain classifier (trained and cached on first use): its test accuracy."""
    from gan_cli.config.compose import compose_config
    from gan_cli.data.stacked import STACKED_BASES
    from gan_cli.metrics import domain_classifier

    steps = compose_config([]).metrics.classifier_steps
    data = STACKED_BASES[base](str(root), download=False)
    return domain_classifier.for_data(data, steps).accuracy
