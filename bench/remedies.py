"""8. Mode-collapse remedies on toy data: each remedy switched on alone over the
`vanilla` and `wgan_gp` presets (packing, unrolling, R1, LSGAN, generator averaging,
learning-rate decay), on the budget of the quality part (1,500 steps, 3 seeds); then
the tuned settings of conf/experiment/ (`+experiment=ring8_best`, `grid25_best`) on
their own budgets, with their quality against time, beside the published rows of
VEEGAN and PacGAN."""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
from pathlib import Path
from typing import Any

from bench.quality import DISTRIBUTIONS, measure

REMEDIES = {  # each switched on alone over a preset
    "vanilla": [],
    "vanilla pack 4": ["loss.pack=4"],
    "vanilla unroll 3": ["loss.unroll=3"],
    "vanilla r1": ["loss.constraint=r1", "loss.r1_gamma=0.1"],
    "vanilla ema": ["trainer.ema_decay=0.999"],
    "vanilla linear lr": ["optim.schedule=linear"],
    "lsgan": [],
    "wgan_gp": [],
    "wgan_gp pack 4": ["loss.pack=4"],
    "wgan_gp unroll 3": ["loss.unroll=3"],
    "wgan_gp ema": ["trainer.ema_decay=0.999"],
    "wgan_gp linear lr": ["optim.schedule=linear"],
}
BEST = {"ring8": "ring8_best", "grid25": "grid25_best"}  # conf/experiment/
BEST_EVALS = 12  # evaluations over a tuned run: its curve of quality against time
PUBLISHED = {  # (Lin et al. 2018, Table 1; VEEGAN's protocol): modes, high-quality %
    "ring8": {"VEEGAN": (8.0, 52.9), "PacGAN4": (7.8, 95.9)},
    "grid25": {"VEEGAN": (24.6, 40.0), "PacGAN4": (24.8, 93.6)},
}
COLUMNS = ("modes/captured", "modes/hq_fraction", "wasserstein/exact")
COLUMNS += ("wasserstein/normalized", "seconds")


def _config(name: str, dist: str, seed: int, steps: int | None, *extra: str):
    from bench.common import config

    if name in BEST.values():
        chosen = [f"+experiment={name}"]
    else:
        chosen = [f"loss={name.split()[0]}", *REMEDIES[name]]
    return config(
        *chosen,
        f"data.distribution={dist}",
        f"trainer.seed={seed}",
        *([f"trainer.steps={steps}"] if steps else []),
        "logger=none",
        "trainer.device=cpu",
        *extra,
    )


def _run(job: tuple[str, str, int, int | None, str]) -> dict[str, Any]:
    name, dist, seed, steps, run_dir = job
    if name not in BEST.values():
        return measure(_config(name, dist, seed, steps), job)
    probe = _config(name, dist, seed, None)
    every = probe.trainer.steps // BEST_EVALS
    cfg = _config(name, dist, seed, None, f"trainer.eval_every={every}")
    out = measure(cfg, job)
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").open()]
    evals = [r for r in rows if "modes/captured" in r]
    steps_per_s = cfg.trainer.steps / out["seconds"]
    out["curve"] = [  # the time of a step: the run's mean pace
        {"step": r["step"], "seconds": r["step"] / steps_per_s, **{k: r[k] for k in COLUMNS[:3]}}
        for r in evals
    ]
    out["steps"] = cfg.trainer.steps
    return out


def remedies(quick: bool, work: Path) -> dict[str, Any]:
    steps, seeds = (200, (0,)) if quick else (1500, (0, 1, 2))
    names = ("vanilla", "vanilla pack 4") if quick else tuple(REMEDIES)
    jobs = [
        (n, d, s, steps, str(work / "remedies" / f"{n.replace(' ', '_')}-{d}-{s}"))
        for n in names
        for d in DISTRIBUTIONS
        for s in seeds
    ]
    if not quick:  # the tuned settings, longest first
        jobs[:0] = [
            (BEST[d], d, s, None, str(work / "remedies" / f"{BEST[d]}-{s}"))
            for d in DISTRIBUTIONS
            for s in seeds
        ]
    with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        runs = list(pool.imap_unordered(_run, jobs))
    summary = {}
    for name in (*names, *([] if quick else BEST.values())):
        for dist in DISTRIBUTIONS:
            mine = [r for r in runs if r["config"] == name and r["distribution"] == dist]
            if not mine:
                continue
            ok = [r for r in mine if "diverged" not in r]
            row: dict[str, Any] = {"diverged": len(mine) - len(ok), "runs": len(mine)}
            for k in COLUMNS:
                values = [r[k] for r in ok if r.get(k) is not None]
                if values:
                    row[k] = statistics.fmean(values)
            summary[f"{name} {dist}"] = row
    return {
        "steps": steps,
        "seeds": list(seeds),
        "summary": summary,
        "published": PUBLISHED,
        "runs": [{k: v for k, v in r.items() if k != "samples"} for r in runs],
    }
