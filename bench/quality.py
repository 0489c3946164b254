"""5. Quality on toy data: every loss preset (and every f-GAN divergence) on ring8 and
grid25, over seeds, with a fixed budget of generator steps: modes captured, high-quality
fraction, exact W1, the critic's held-out estimate beside it, and wall time; plus one
figure with a row of final grid25 samples per loss."""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gan_cli.data.toy2d import Toy2D  # noqa: E402
from gan_cli.losses.fgan import DIVERGENCES  # noqa: E402
from gan_cli.metrics.exact_w1 import exact_w1  # noqa: E402
from gan_cli.metrics.modes import mode_coverage  # noqa: E402

CONFIGS = {
    "vanilla": ["loss=vanilla"],
    "wgan": ["loss=wgan"],
    "wgan_gp": ["loss=wgan_gp"],
    # the paper's lambda (the toy preset uses 0.1): how closely the critic tracks W1
    "wgan_gp lambda 10": ["loss=wgan_gp", "loss.gp_lambda=10"],
    "sn": ["loss=sn"],
    # the setting of the SN-GAN paper's ResNet runs (the preset is setting C)
    "sn n_critic 5": [
        "loss=sn",
        "loss.n_critic=5",
        "optim.g.betas=[0.0,0.9]",
        "optim.d.betas=[0.0,0.9]",
    ],
    **{f"fgan {d}": ["loss=fgan", f"loss.divergence={d}"] for d in DIVERGENCES},
}
# the five loss presets as gan-train runs them (fgan's default divergence is jensen_shannon)
PRESETS = ("vanilla", "wgan", "wgan_gp", "sn", "fgan jensen_shannon")
DISTRIBUTIONS = ("ring8", "grid25")
METRICS = ("modes/captured", "modes/hq_fraction", "wasserstein/exact", "estimate", "seconds")


def _run(job: tuple[str, str, int, int, str]) -> dict[str, Any]:
    name, dist, seed, steps, run_dir = job
    return measure(toy_config(name, dist, seed, steps), job)


def measure(cfg, job: tuple[str, str, int, int, str]) -> dict[str, Any]:
    """Train `cfg` (the config of `job`) on one core: its final modes, high-quality
    fraction, exact W1, the critic's held-out estimates, and the loop's seconds."""

    from bench.common import timed_train
    from gan_cli.training.step import Diverged

    name, dist, seed, steps, run_dir = job
    cfg.trainer.threads = 1  # one process per core
    out = {
        "config": name,
        "distribution": dist,
        "seed": seed,
        "samples": str(Path(run_dir) / "samples" / f"step_{cfg.trainer.steps:07d}.png"),
    }
    start = time.perf_counter()
    try:
        _, metrics = timed_train(cfg, Path(run_dir))
    except Diverged as e:  # a result too: the guard stopped a non-finite loss
        return {**out, "diverged": str(e), "seconds": time.perf_counter() - start}
    estimate = metrics.get("wasserstein/heldout", metrics.get("divergence/heldout"))
    return {
        **out,
        "modes/captured": metrics["modes/captured"],
        "modes/hq_fraction": metrics["modes/hq_fraction"],
        "wasserstein/exact": metrics["wasserstein/exact"],
        "estimate": estimate,
        "wasserstein/normalized": metrics.get("wasserstein/normalized"),
        "seconds": time.perf_counter() - start,  # the whole run: building, training, evaluation
    }


def toy_config(name: str, dist: str, seed: int, steps: int, *extra: str):
    """The config of CONFIGS[name] on one distribution, one seed, CPU, no W&B."""
    from bench.common import config

    return config(
        *CONFIGS[name],
        f"data.distribution={dist}",
        f"trainer.seed={seed}",
        f"trainer.steps={steps}",
        "logger=none",
        "trainer.device=cpu",
        *extra,
    )


def run_grid(run, names, steps: int, seeds, work: Path) -> list[dict[str, Any]]:
    """run((name, distribution, seed, steps, run folder)) for every config name on ring8
    and grid25 and every seed, one process per core."""
    jobs = [
        (n, d, s, steps, str(work / f"{n.replace(' ', '_')}-{d}-{s}"))
        for n in names
        for d in DISTRIBUTIONS
        for s in seeds
    ]
    with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        return list(pool.imap_unordered(run, jobs))


def quality(quick: bool, work: Path, figure: Path) -> dict[str, Any]:
    steps, seeds = (300, (0,)) if quick else (1500, (0, 1, 2))
    names = PRESETS if quick else tuple(CONFIGS)
    runs = run_grid(_run, names, steps, seeds, work / "quality")
    summary = {}
    for name in names:
        for dist in DISTRIBUTIONS:
            mine = [r for r in runs if r["config"] == name and r["distribution"] == dist]
            ok = [r for r in mine if "diverged" not in r]
            row = {"diverged": len(mine) - len(ok), "runs": len(mine)}
            for k in METRICS:
                if ok and ok[0].get(k) is not None:
                    row[k] = _mean_std([r[k] for r in ok])
            summary[f"{name} {dist}"] = row
    _reference_rows(summary, seeds)
    _figure(
        figure, [r for r in runs if r["distribution"] == "grid25" and r["seed"] == 0], names, steps
    )
    return {
        "steps": steps,
        "seeds": list(seeds),
        "summary": summary,
        "runs": [{k: v for k, v in r.items() if k != "samples"} for r in runs],
    }


def _reference_rows(summary: dict[str, Any], seeds: tuple[int, ...]) -> None:
    """The same metrics for a perfect generator: fresh samples of the data itself (2,000
    against the held-out 2,000 for W1, 2,500 for the modes): the floor of the exact W1
    between finite samples, and the 98.9% high-quality ceiling."""
    for dist in DISTRIBUTIONS:
        runs = []
        for seed in seeds:
            data = Toy2D(dist, batch_size=2500, seed=seed)
            runs.append(
                {
                    **mode_coverage(data.sample(), *data.modes),
                    "wasserstein/exact": exact_w1(data.sample()[: len(data.heldout)], data.heldout),
                }
            )
        row: dict[str, Any] = {"diverged": 0, "runs": len(runs)}
        for k in ("modes/captured", "modes/hq_fraction", "wasserstein/exact"):
            row[k] = _mean_std([r[k] for r in runs])
        summary[f"data itself {dist}"] = row


def _mean_std(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def _figure(path: Path, runs: list[dict], names: tuple[str, ...], steps: int) -> None:
    """The final grid25 sample plot of each run (seed 0): the first row the five loss
    presets, the rows below the other settings and f-GAN divergences."""
    by_name = {r["config"]: r for r in runs}
    others = [n for n in names if n not in PRESETS]
    cols = len(PRESETS)
    rows = 1 + -(-len(others) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    placed = [*zip(axes[0], PRESETS, strict=True), *zip(axes[1:].flat, others, strict=False)]
    for ax, name in placed:
        r = by_name[name]
        if "diverged" in r:  # stopped by the divergence guard: no final plot
            ax.set_title(f"{name}\ndiverged", fontsize=9)
            continue
        ax.imshow(plt.imread(r["samples"]))
        ax.set_title(
            f"{name}\nW1 {r['wasserstein/exact']:.3f}, {r['modes/captured']:.0f}/25 modes",
            fontsize=9,
        )
    title = f"grid25 after {steps} generator steps (seed 0): the loss presets"
    fig.suptitle(title + (", then other settings and divergences" if others else ""))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
