"""6. On a GPU: the overhead ratio there, and image steps per second of DCGAN and ResNet
on CIFAR-shaped data for each loss, in float32 and bf16, with and without compile (the
steady rate of the last logging window; each run's seconds, compilation included, too)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from bench.common import config, data_root, timed_train
from bench.overhead import overhead

MODELS = ("dcgan", "resnet")
LOSSES = ("vanilla", "wgan", "wgan_gp", "sn", "fgan")  # every loss preset


def gpu(quick: bool, work: Path, device: str = "cuda") -> dict[str, Any]:
    if device == "cuda" and not torch.cuda.is_available():
        return {"skipped": "no CUDA device on this machine"}
    root = data_root(work / "data")
    out: dict[str, Any] = {"overhead": overhead(quick, work, device=device)}
    # throughput from the last logging window: after compilation and warm-up
    steps, window = (20, 5) if quick else (200, 25)
    rows = []
    for model in MODELS:
        for loss in LOSSES:
            for precision in ("32", "bf16"):
                for compile_ in (False, True):
                    flag = str(compile_).lower()
                    cfg = config(
                        f"model={model}",
                        "data=cifar10",
                        f"loss={loss}",
                        f"data.root={root}",
                        "data.download=false",
                        f"trainer.device={device}",
                        "logger=none",
                        f"trainer.precision={precision}",
                        f"trainer.compile={flag}",
                        f"trainer.steps={steps}",
                        f"trainer.log_every={window}",
                        "trainer.eval_every=0",
                        "trainer.sample_every=0",
                    )
                    with tempfile.TemporaryDirectory(dir=work) as run:
                        seconds, metrics = timed_train(cfg, Path(run))
                    rate = metrics["time/steps_per_s"]
                    rows.append(
                        {
                            "model": model,
                            "loss": loss,
                            "precision": precision,
                            "compile": compile_,
                            "steps_per_s": rate,
                            "images_per_s": rate * cfg.data.batch_size,
                            "run_seconds": seconds,  # compilation included
                        }
                    )
    out["throughput"] = rows
    return out
