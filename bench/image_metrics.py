"""What the image metrics show while a DCGAN trains on real Fashion-MNIST: every
evaluation's `fid/classifier`, `prdc/*` and `classes/*` of one 600-step run, beside the
real data's own scores (the floor), for the Images guide's "which to watch"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.conditional import fashion

SCALARS = (
    "fid/classifier",
    "prdc/precision",
    "prdc/recall",
    "prdc/density",
    "prdc/coverage",
    "classes/covered",
    "classes/kl",
)


def command(steps: int, every: int) -> list[str]:
    """The gan-train overrides of the run (data.root aside)."""
    return [
        "data=fashion_mnist",
        "model=dcgan",
        "loss=vanilla",
        f"trainer.steps={steps}",
        f"trainer.eval_every={every}",
        "logger=none",
    ]


def image_metrics(quick: bool, work: Path) -> dict[str, Any]:
    from bench.common import config, timed_train
    from gan_cli.tracking.tracker import read_jsonl

    root = fashion(work)
    if root is None:
        return {
            "skipped": "no Fashion-MNIST (GAN_BENCH_FASHION, /usr/share/datasets/fashion-mnist)"
        }
    steps, every = (40, 20) if quick else (600, 150)
    run_dir = work / "image_metrics"
    cfg = config(*command(steps, every), f"data.root={root}", "data.download=false")
    seconds, _ = timed_train(cfg, run_dir)
    rows = [r for r in read_jsonl(run_dir / "metrics.jsonl") if "fid/classifier" in r]
    floor = next(r for r in rows if "floor/fid/classifier" in r)
    return {
        "steps": steps,
        "eval_every": every,
        "command": command(steps, every),
        "seconds": seconds,
        "evaluations": [{"step": r["step"], **{k: r[k] for k in SCALARS}} for r in rows],
        "floor": {k: floor[f"floor/{k}"] for k in SCALARS},
    }
