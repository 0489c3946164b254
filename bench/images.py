"""14. Images near the real data's floor: the tuned Fashion-MNIST recipes
(`+experiment=fashion_mnist_best`, `fashion_mnist_cond_best`), with and without
augmentation, on the whole training split and on 10% of it, 3 seeds, one core and the
recipe's budget a run; each score beside the real data's own (`floor/...`), and the
learning curves (fid/classifier against CPU-minutes) of the recipes and of today's
plain DCGAN preset on the same budget, as bench/results/images_curves.png.

Stacked MNIST's recipe (`+experiment=stacked_mnist_best`): modes and KL beside the
real stacks' floor.

The images are real: Fashion-MNIST from Debian's dataset-fashion-mnist, as the
conditional part finds it. Without it the part is skipped and says why."""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS
from bench.conditional import _classifier, fashion
from bench.stacked import FASHION

AUGMENT = "data.augment=translation,cutout,color"
RECIPES = {  # name -> overrides
    "best": ["+experiment=fashion_mnist_best"],
    "cond best": ["+experiment=fashion_mnist_cond_best"],
    "best, 10% + augment": ["+experiment=fashion_mnist_best", "data.fraction=0.1", AUGMENT],
    "best, 10%": ["+experiment=fashion_mnist_best", "data.fraction=0.1"],
    "best, 10% + ADA": [
        "+experiment=fashion_mnist_best",
        "data.fraction=0.1",
        AUGMENT,
        "data.augment_target=0.6",
    ],
    # on the whole split augmentation adapts (ADA): at p = 1 it cost the 10% run 3x (seed 0)
    "best + ADA": ["+experiment=fashion_mnist_best", AUGMENT, "data.augment_target=0.6"],
    "cond best + ADA": [
        "+experiment=fashion_mnist_cond_best",
        AUGMENT,
        "data.augment_target=0.6",
    ],
    # today's plain DCGAN preset on the recipe's budget: the curve the recipes are read against
    "dcgan preset": ["+experiment=fashion_mnist_best", "trainer.ema_decay=0"],
}
STACKED = ["+experiment=stacked_mnist_best", "data.base=fashion_mnist"]  # seed 0 alone
SCORES = (
    "fid/classifier",
    "prdc/precision",
    "prdc/recall",
    "prdc/density",
    "prdc/coverage",
    "classes/score",
    "classes/accuracy",
    "modes/captured",
    "modes/kl",
)
CURVES = "images_curves.png"
HEADLINE = ("best", "cond best", "best, 10%")  # the targets
SMALL_DATA = ("best, 10% + augment", "best, 10% + ADA")  # augmentation's case
FIXED_P = "best, 10% + augment"  # p = 1: 3x the plain 10% run on seed 0, its other seeds last


def order(name: str, seed: int) -> tuple[int, int, int]:
    """Seed 0 of the targets' recipes and of augmentation's case first, then the targets'
    other seeds, then the rest seed by seed, fixed p's other seeds last: a study cut short
    has its headline rows on every seed."""
    if seed == 0 and name in (*HEADLINE, *SMALL_DATA):
        tier = 0
    elif name in HEADLINE:
        tier = 1
    else:
        tier = 3 if name == FIXED_P else 2
    return tier, seed, list(RECIPES).index(name)


def curve(rows: list[dict]) -> list[tuple[int, float]]:
    """(step, fid/classifier) at each evaluation of a metrics.jsonl."""
    return [(r["step"], r["fid/classifier"]) for r in rows if "fid/classifier" in r]


def _run(job: tuple[str, int, list[str], str]) -> dict[str, Any]:
    from bench.common import config, timed_train

    name, seed, overrides, run_dir = job
    done = Path(run_dir) / "bench.json"
    if done.is_file():  # kept by --reuse
        return _finished(done)
    cfg = config(
        *overrides,
        f"trainer.seed={seed}",
        "trainer.threads=1",  # one process per core
        "logger=none",
        "trainer.device=cpu",
    )
    cpu = time.process_time()
    seconds, final = timed_train(cfg, Path(run_dir))
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").open()]
    floor = {k: v for r in rows for k, v in r.items() if k.startswith("floor/")}
    out = {
        "config": name,
        "seed": seed,
        "steps": cfg.trainer.steps,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        **{k: final[k] for k in SCORES if k in final},
        "floor": floor,
        "curve": curve(rows),
    }
    done.write_text(json.dumps(out, indent=2))
    return out


def _finished(done: Path) -> dict[str, Any]:
    """A finished job's bench.json, its curve read again from its metrics.jsonl (in steps,
    also for the jobs of an older bench)."""
    run = json.loads(done.read_text())
    metrics_file = done.parent / "metrics.jsonl"
    if metrics_file.is_file():
        run["curve"] = curve([json.loads(line) for line in metrics_file.open()])
    return run


def images(quick: bool, work: Path, reuse: bool = False) -> dict[str, Any]:
    """Every job, one process per core; with `reuse` the jobs finished in `work` are kept."""
    from bench.stacked import _classifier as digits_classifier
    from bench.stacked import digits

    root = fashion(work)
    if root is None:
        return {"skipped": f"no Fashion-MNIST (GAN_BENCH_FASHION, {FASHION})"}
    accuracy = _classifier(root)  # trained once, before the runs share it
    common = [f"data.root={root}", "data.download=false"]
    names, seeds = (("best", "cond best"), (0,)) if quick else (tuple(RECIPES), (0, 1, 2))
    short = ["trainer.steps=100", "trainer.eval_every=50"] if quick else []
    if not reuse:
        for old in (work / "images").glob("*/bench.json"):
            old.unlink()
    jobs = [
        (n, s, [*RECIPES[n], *common, *short], str(work / "images" / f"{n}-{s}"))
        for n, s in sorted(((n, s) for n in names for s in seeds), key=lambda j: order(*j))
    ]
    found = digits(work)
    if found is not None:  # Stacked MNIST's recipe, seed 0, after the first tier
        stacks, base = found
        digits_classifier(stacks, base)
        where = [f"data.root={stacks}", "data.download=false", *short]
        jobs.insert(
            sum(order(n, s)[0] == 0 for n, s, *_ in jobs),
            ("stacked best", 0, [*STACKED, *where], str(work / "images" / "stacked-0")),
        )
    with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        runs = list(pool.imap_unordered(_run, jobs))
    result = summarize(runs, accuracy)
    if not quick:
        draw_curves([r for r in runs if r["config"] in RECIPES], RESULTS / CURVES)
    return result


def record(work: Path) -> dict[str, Any]:
    """The jobs a stopped or running `images` finished in `work`, summarized."""
    runs = [_finished(done) for done in sorted((work / "images").glob("*/bench.json"))]
    draw_curves([r for r in runs if r["config"] in RECIPES], RESULTS / CURVES)
    return summarize(runs, _classifier(fashion(work)))


def summarize(runs: list[dict], accuracy: float) -> dict[str, Any]:
    """Each recipe's mean and spread over seeds, and each score over the data's floor."""
    summary = {}
    known = [*RECIPES, "stacked best"]
    for name in sorted({r["config"] for r in runs}, key=known.index):
        mine = [r for r in runs if r["config"] == name]
        row: dict[str, Any] = {"runs": len(mine), "steps": mine[0]["steps"]}
        for k in (*SCORES, "cpu_seconds"):
            values = [r[k] for r in mine if k in r]
            if values:
                row[k] = statistics.fmean(values)
                row[f"{k} std"] = statistics.pstdev(values)
            floors = [r["floor"][f"floor/{k}"] for r in mine if f"floor/{k}" in r["floor"]]
            if values and floors:
                row[f"floor/{k}"] = statistics.fmean(floors)
        if "fid/classifier" in row and row.get("floor/fid/classifier"):
            row["fid/classifier over floor"] = row["fid/classifier"] / row["floor/fid/classifier"]
        summary[name] = row
    return {"classifier_accuracy": accuracy, "summary": summary, "runs": runs}


def draw_curves(runs: list[dict], path: Path) -> None:
    """fid/classifier against CPU-minutes, one line per run, one colour per recipe, the real
    data's floor dashed. A run's CPU time (its evaluations included) is spread over its
    steps evenly, so the minutes do not depend on what else ran on the machine."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colours = dict(zip(RECIPES, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    shown = set()
    for r in runs:
        if not r["curve"]:
            continue
        steps, fid = zip(*r["curve"], strict=True)
        minutes = [step / r["steps"] * r["cpu_seconds"] / 60 for step in steps]
        label = None if r["config"] in shown else r["config"]
        shown.add(r["config"])
        ax.plot(minutes, fid, color=colours.get(r["config"]), label=label, alpha=0.8)
    floors = [r["floor"]["floor/fid/classifier"] for r in runs if r["floor"]]
    if floors:
        ax.axhline(statistics.fmean(floors), ls="--", color="k", label="real data (floor)")
    ax.set(xlabel="CPU-minutes (one core, evaluations included)", ylabel="fid/classifier")
    ax.set_yscale("log")
    ax.set_title("Fashion-MNIST: distance to the real data against compute")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
