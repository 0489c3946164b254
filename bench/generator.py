"""What a trained generator is used for, measured through gan-sample as a user types it:

- projection: 64 targets the generator made itself from known latents (a perfect answer
  exists), written as a user has them (PNG files, a .npy of points), and 64 held-out
  real images or points; its quality (each target's distance to its projection against
  the median distance between two of the generator's samples) and its seconds per
  target on this machine's CPU, with gan-sample's defaults;
- the truncation trick's table (truncation=... metrics=true);
- the copy rate (nearest=5) of the Fashion-MNIST recipe on 64 images trained far past
  memorising them, beside the same recipe on the whole training set.

The runs: the toy MLP of `+experiment=ring8_best` (a 2-D latent) and the DCGAN of
`+experiment=fashion_mnist_best` for the first 2,500 of its 9,000 steps (and for 4,000
steps on 64 of its images), each trained by
gan-train with `logger=none trainer.threads=1`, seed 0; a run already finished in
--work is kept. Fashion-MNIST comes from Debian's dataset-fashion-mnist; without it
only the toy run is measured."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import time
from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, train_once

TARGETS = 64
FASHION_RUN = ["+experiment=fashion_mnist_best", "trainer.steps=2500", "trainer.eval_every=500"]
RUNS = {
    "ring8": ["+experiment=ring8_best"],
    "fashion": FASHION_RUN,
    # 64 training images (data.fraction), 4,000 steps of 64: each image seen 4,000 times
    "fashion_64": [*FASHION_RUN[:1], "data.fraction=0.00107", "trainer.steps=4000"],
}
PSI = "0.25,0.5,0.75,1.0,1.5,2.0"
FIGURES = {  # what the guide shows: bench/results/generator_*.png
    "fashion/real/projected.png": "generator_projection.png",
    "fashion/truncation/truncation.png": "generator_truncation_fashion.png",
    "ring8/truncation/truncation.png": "generator_truncation_ring8.png",
    "fashion_64/nearest/nearest.png": "generator_nearest_64.png",
    "fashion/nearest/nearest.png": "generator_nearest_all.png",
    "fashion/walks.gif": "generator_walks.gif",
}


def generator(quick: bool, work: Path, results: Path = RESULTS) -> dict[str, Any]:
    """Train what --work lacks, then measure every use of the runs; the guide's figures
    go to `results`."""
    from bench.conditional import fashion

    root = None if quick else fashion(work)
    runs = {"ring8": [*RUNS["ring8"], "trainer.steps=1000"] if quick else RUNS["ring8"]}
    if root is not None:
        data = [f"data.root={root}", "data.download=false"]
        runs |= {name: [*RUNS[name], *data] for name in ("fashion_64", "fashion")}
    jobs = [(name, overrides, work) for name, overrides in reversed(runs.items())]
    with ThreadPool(2) as pool:  # one process a core, the longest first
        list(pool.imap_unordered(train_once, jobs))
    out: dict[str, Any] = {"runs": runs, "targets": TARGETS}
    for name in runs:
        run = work / name
        result: dict[str, Any] = {}
        if name != "fashion_64":
            result["projection"] = _projection(run)
            result["truncation"] = _truncation(run)
        if name != "ring8":
            result["copy_rate"] = _copy_rate(run)
        if name == "fashion":
            shutil.rmtree(run / "walks", ignore_errors=True)
            _sample(run, "n=4", "interpolate=4", f"video={run / 'walks.gif'}", "out=walks")
        out[name] = result
    for source, name in FIGURES.items():
        if (work / source).is_file():
            shutil.copy(work / source, results / name)
    if quick:
        out["skipped_image_runs"] = "quick: the toy run only"
    elif root is None:
        out["skipped_image_runs"] = "no Fashion-MNIST files (apt-get install dataset-fashion-mnist)"
    return out


def _sample(run: Path, *args: str) -> subprocess.CompletedProcess:
    """gan-sample checkpoint=RUN ARGS, from the run folder (out= is relative to it)."""
    command = [sys.executable, "-m", "gan_cli.cli.sample", f"checkpoint={run}", *args]
    done = subprocess.run(command, cwd=run, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return done


def _projection(run: Path) -> dict[str, Any]:
    """Generated targets (known latents) and held-out real ones, each projected by
    gan-sample project=... with its defaults, timed."""
    import torch

    from gan_cli.api.generator import load
    from gan_cli.config import build
    from gan_cli.trained.project_inputs import read_targets
    from gan_cli.trained.projection import distance

    for folder in ("made", "made_projected", "real", "real_targets"):
        shutil.rmtree(run / folder, ignore_errors=True)
    _sample(run, f"n={TARGETS}", "seed=1", "out=made")
    G = load(run, device="cpu")
    made = np.load(run / "made" / "samples.npz")["x"]
    images = made.ndim == 4
    if images:
        target = str(run / "made" / "images")
    else:
        target = str(run / "made" / "points.npy")
        np.save(target, made)
    shape = tuple(made.shape[1:])
    x, _ = read_targets(target, shape)  # what gan-sample reads (8-bit images)
    apart = distance(x, x.roll(1, 0)).median().item()  # two random samples
    result = {"random_pair_distance": apart}
    start = time.perf_counter()
    _sample(run, f"project={target}", "out=made_projected")
    seconds = time.perf_counter() - start
    d = np.load(run / "made_projected" / "projected.npz")["distance"]
    result["generated"] = _quality(d, apart, seconds)
    # held-out real data: the run's held-out split, the first TARGETS of it
    data = build.data_source(G.config, torch.device("cpu"))
    real = data.heldout[:TARGETS].float()
    (run / "real_targets").mkdir()
    if images:
        from gan_cli.trained.sampling import write_pngs

        write_pngs(real, run / "real_targets", 0)
        target = str(run / "real_targets")
    else:
        target = str(run / "real_targets" / "points.npy")
        np.save(target, real.numpy())
    start = time.perf_counter()
    _sample(run, f"project={target}", "out=real")
    seconds = time.perf_counter() - start
    d = np.load(run / "real" / "projected.npz")["distance"]
    result["real"] = _quality(d, apart, seconds)
    return result


def _quality(d: np.ndarray, apart: float, seconds: float) -> dict[str, float]:
    ratio = d / apart
    return {
        "median_distance": float(np.median(d)),
        "median_ratio": float(np.median(ratio)),
        "p90_ratio": float(np.quantile(ratio, 0.9)),
        "share_within_tenth": float((ratio <= 0.1).mean()),
        "seconds_per_target": seconds / len(d),
    }


def _truncation(run: Path) -> list[dict[str, Any]]:
    """gan-sample truncation=PSI metrics=true: its table's rows (the untruncated last)."""
    shutil.rmtree(run / "truncation", ignore_errors=True)
    _sample(run, f"truncation={PSI}", "metrics=true", "n=5000", "out=truncation")
    with open(run / "truncation" / "truncation.csv") as f:
        return [
            {k: (v if k == "truncation" else float(v)) for k, v in row.items() if v != ""}
            for row in csv.DictReader(f)
        ]


def _copy_rate(run: Path) -> float:
    """gan-sample nearest=5 n=1000: the copy rate its closing line gives."""
    shutil.rmtree(run / "nearest", ignore_errors=True)
    done = _sample(run, "nearest=5", "n=1000", "images=false", "out=nearest")
    return float(re.search(r"copy rate ([0-9.]+)", done.stdout)[1])
