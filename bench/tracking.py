"""6. Does the logged estimate track the truth? For each critic loss on ring8 and grid25,
the Spearman rank correlation between an estimate and the exact W1 over the
evaluations of a run (every 100 generator steps), and their ratio at the end: for
`wasserstein/normalized` (the critic scaled to be 1-Lipschitz, a lower bound on W1)
and, beside it, the raw `wasserstein/heldout`. Target: Spearman >= 0.9 and an end ratio
between 0.5 and 1.1 for the normalized estimate."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from scipy.stats import spearmanr

from bench.quality import DISTRIBUTIONS, run_grid, toy_config

CRITIC_LOSSES = ("wgan", "wgan_gp", "wgan_gp lambda 10", "sn", "sn n_critic 5")
ESTIMATES = ("wasserstein/normalized", "wasserstein/heldout")
EVAL_EVERY = 100


def _run(job: tuple[str, str, int, int, str]) -> dict[str, Any]:

    from bench.common import timed_train

    name, dist, seed, steps, run_dir = job
    # one process per core
    extra = (f"trainer.eval_every={EVAL_EVERY}", "trainer.sample_every=0", "trainer.threads=1")
    cfg = toy_config(name, dist, seed, steps, *extra)
    timed_train(cfg, Path(run_dir))
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").open()]
    history = [r for r in rows if "wasserstein/exact" in r]
    out: dict[str, Any] = {"config": name, "distribution": dist, "seed": seed}
    exact = [r["wasserstein/exact"] for r in history]
    out["steps"] = [r["step"] for r in history]
    out["wasserstein/exact"] = exact
    for key in ESTIMATES:
        values = [r[key] for r in history]
        rho = spearmanr(values, exact).statistic
        out[key] = {
            "history": values,
            "spearman": None if rho != rho else float(rho),  # constant: undefined (nan)
            "end_ratio": values[-1] / exact[-1],
        }
    return out


def tracking(quick: bool, work: Path) -> dict[str, Any]:
    steps, seeds = (300, (0,)) if quick else (1500, (0, 1, 2))
    names = ("wgan_gp", "sn n_critic 5") if quick else CRITIC_LOSSES
    runs = run_grid(_run, names, steps, seeds, work / "tracking")
    summary = {}
    for name in names:
        for dist in DISTRIBUTIONS:
            mine = [r for r in runs if r["config"] == name and r["distribution"] == dist]
            row = {"exact_end": _mean([r["wasserstein/exact"][-1] for r in mine])}
            for key in ESTIMATES:
                rhos = [r[key]["spearman"] for r in mine if r[key]["spearman"] is not None]
                row[key] = {
                    "spearman": _mean(rhos) if rhos else None,
                    "end_ratio": _mean([r[key]["end_ratio"] for r in mine]),
                }
            summary[f"{name} {dist}"] = row
    return {
        "steps": steps,
        "seeds": list(seeds),
        "eval_every": EVAL_EVERY,
        "summary": summary,
        "runs": runs,
    }


def _mean(values: list[float]) -> float:
    return statistics.fmean(values)
