"""6. On a GPU: the overhead ratio there, and image steps per second of DCGAN and ResNet
on CIFAR-shaped data for each loss, in float32 and bf16, with and without compile."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from bench.common import config, data_root, timed_train
from bench.overhead import overhead

MODELS = ("dcgan", "resnet")
LOSSES = ("vanilla", "wgan_gp", "sn")


def gpu(quick: bool, work: Path) -> dict[str, Any]:
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device on this machine"}
    root = data_root(work / "data")
    out: dict[str, Any] = {"overhead": overhead(quick, work, device="cuda")}
    steps = 20 if quick else 200
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
                        "trainer.device=cuda",
                        "logger=none",
                        f"trainer.precision={precision}",
                        f"trainer.compile={flag}",
                        f"trainer.steps={steps}",
                        "trainer.eval_every=0",
                        "trainer.sample_every=0",
                    )
                    with tempfile.TemporaryDirectory(dir=work) as run:
                        seconds, _ = timed_train(cfg, Path(run))
                    rows.append(
                        {
                            "model": model,
                            "loss": loss,
                            "precision": precision,
                            "compile": compile_,
                            "steps_per_s": steps / seconds,
                            "images_per_s": steps * cfg.data.batch_size / seconds,
                        }
                    )
    out["throughput"] = rows
    return out
