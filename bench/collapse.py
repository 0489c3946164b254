"""12. Mode collapse's answers that change what is trained: ALI and VEEGAN (a third
network) and AdaGAN (a mixture of GANs), under the toy protocol of the quality and
remedies parts (2,500 samples: modes captured, high-quality fraction; exact W1), over 3
seeds on ring8 and grid25, each with its CPU time, beside the published rows of VEEGAN's
Table 1 and PacGAN's; and on Stacked MNIST (the stacked part's protocol), the plain
DCGAN, VEEGAN and AdaGAN over DCGAN.

An AdaGAN run records its mixture after each round: the table gives the round at which
the mixture first held every mode, and its first round is its single component (the
plain run of the preset, same seed).

Each job leaves its result in its folder (`bench.json`): `--record` writes those
finished so far into bench/results/collapse.json (marked partial), and `--reuse` keeps
the finished ones, those of the folder and those recorded there, and runs the rest."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bench.quality import DISTRIBUTIONS

MODES = {"ring8": 8, "grid25": 25}
TOY = {  # name -> overrides (a distribution's own where a dict), in the order they run
    "adagan gan": ["+experiment=grid25_adagan"],
    "veegan": {d: [f"+experiment={d}_veegan"] for d in MODES},
    # VEEGAN's ring8 setting without the reconstruction, every learning rate 1e-4 (at G's
    # 1e-3 it kept one mode), a quarter of its steps. On grid25 the settings of VEEGAN's
    # code (+experiment=grid25_veegan loss=ali) kept 18, 6 and 10 modes (29% HQ): fewer
    # modes than this setting's 13.0 on average (README Results)
    "ali": ["+experiment=ring8_veegan", "loss=ali", "optim.g.lr=1e-4", "trainer.steps=10000"],
    "gan": ["loss=vanilla", "trainer.steps=2500"],  # the plain GAN: AdaGAN's component
    "adagan best": {d: [f"+experiment={d}_best", "+boost=adagan", "boost.rounds=2"] for d in MODES},
}
QUICK_TOY = {  # the smoke test's budgets: every kind of run, a few hundred steps
    "gan": ["loss=vanilla", "trainer.steps=200"],
    "veegan": ["loss=veegan", "trainer.steps=200"],
    "adagan gan": ["loss=vanilla", "trainer.steps=100", "+boost=adagan", "boost.rounds=2"],
}
STACKED = {
    "dcgan": ["loss=vanilla"],
    "veegan": ["loss=veegan"],
    "adagan dcgan": ["loss=vanilla", "+boost=adagan", "boost.rounds=3"],
}
PUBLISHED = {  # VEEGAN Table 1 (2,500 samples, 5 runs) and PacGAN Table 1: modes, HQ %
    "ring8": {
        "GAN": (1.0, 99.3),
        "ALI": (2.8, 0.13),
        "Unrolled GAN": (7.6, 35.6),
        "VEEGAN": (8.0, 52.9),
        "PacGAN4": (7.8, 95.9),
    },
    "grid25": {
        "GAN": (3.3, 0.5),
        "ALI": (15.8, 1.6),
        "Unrolled GAN": (23.6, 16.0),
        "VEEGAN": (24.6, 40.0),
        "PacGAN4": (24.8, 93.6),
    },
    "stacked": {  # modes of 1,000 and KL to uniform (VEEGAN Table 2, PacGAN Table 2)
        "DCGAN": (99.0, 3.40),
        "ALI": (16.0, 5.40),
        "Unrolled GAN": (48.7, 4.32),
        "VEEGAN": (150.0, 2.95),
        "PacDCGAN2": (1000.0, 0.06),
    },
}
COLUMNS = ("modes/captured", "modes/hq_fraction", "wasserstein/exact", "modes/kl")


def _run(job: tuple[str, str, int, list[str], str]) -> dict[str, Any]:
    """One gan-train run (AdaGAN's rounds included) on one core: its final metrics, its
    CPU seconds, and for AdaGAN the mixture's metrics after each round."""
    from bench.common import config, quiet
    from gan_cli.cli.launch import fit_config as fit

    name, data, seed, overrides, run_dir = job
    done = Path(run_dir) / "bench.json"
    if done.is_file():  # kept by --reuse
        return json.loads(done.read_text())
    chosen = [f"data.distribution={data}"] if data in MODES else []
    cfg = config(
        *overrides,
        *chosen,
        f"trainer.seed={seed}",
        "trainer.threads=1",  # one process per core
        "logger=none",
        "trainer.device=cpu",
    )
    if Path(run_dir).is_dir():  # a stopped job's folder: its metrics never mix into this run's
        shutil.rmtree(run_dir)
    start, cpu = time.perf_counter(), time.process_time()
    with quiet():
        final = fit(cfg, Path(run_dir))
    out = {
        "config": name,
        "data": data,
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        **{k: final[k] for k in COLUMNS if k in final},
    }
    if "boost" in cfg:
        rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").open()]
        out["rounds"] = [{k: r[k] for k in ("step", *COLUMNS) if k in r} for r in rows]
        if data in MODES:
            full = [r["step"] for r in rows if r["modes/captured"] >= MODES[data]]
            out["all_modes_round"] = full[0] if full else None
    done.write_text(json.dumps(out, indent=2))
    return out


def collapse(quick: bool, work: Path, reuse: bool = False) -> dict[str, Any]:
    """Every job, one process per core; with `reuse` the jobs finished in `work` are kept."""
    from bench.stacked import _classifier, digits

    if not reuse:  # a fresh run: no result of an earlier one is kept
        for old in (work / "collapse").glob("*/bench.json"):
            old.unlink()

    toy, seeds = (QUICK_TOY, (0,)) if quick else (TOY, (0, 1, 2))
    jobs = [
        (n, d, s, o[d] if isinstance(o, dict) else o, str(work / "collapse" / f"{n}-{d}-{s}"))
        for n, o in toy.items()
        for d in DISTRIBUTIONS
        for s in seeds
    ]
    stacked = None
    found = digits(work)
    if found is not None:
        root, base = found
        steps, samples = (100, 2600) if quick else (1500, 26_000)
        stacked = {"base": base, "steps": steps, "samples": samples}
        common = [
            "model=dcgan",
            "data=stacked_mnist",
            f"data.root={root}",
            f"data.base={base}",
            "data.download=false",
            f"trainer.steps={steps}",
            "trainer.eval_every=0",
            "trainer.sample_every=0",
            "trainer.log_every=100",
            f"metrics.stacked_samples={samples}",
            "metrics.eval=[stacked_modes]",
        ]
        _classifier(root, base)  # trained once, before the runs share it
        names = ("dcgan", "adagan dcgan") if quick else tuple(STACKED)
        jobs += [
            (n, "stacked", 0, [*STACKED[n], *common], str(work / "collapse" / f"{n}-stacked"))
            for n in names
        ]
    kept = _recorded() if reuse and not quick else {}
    runs = [kept[j[:3]] for j in jobs if j[:3] in kept]
    with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        runs += pool.imap_unordered(_run, [j for j in jobs if j[:3] not in kept])
    return summarize(runs, list(seeds), stacked)


def _recorded() -> dict[tuple[str, str, int], dict[str, Any]]:
    """The runs the committed results hold, by (method, data, seed)."""
    from bench.common import RESULTS

    path = RESULTS / "collapse.json"
    if not path.is_file():
        return {}
    runs = json.loads(path.read_text())["result"]["runs"]
    return {(r["config"], r["data"], r["seed"]): r for r in runs}


def record(work: Path) -> dict[str, Any]:
    """The jobs a stopped or running `collapse` finished in `work`, summarized."""
    runs = [json.loads(p.read_text()) for p in sorted((work / "collapse").glob("*/bench.json"))]
    return summarize(runs, sorted({r["seed"] for r in runs}), None)


def summarize(runs: list[dict], seeds: list[int], stacked: dict | None) -> dict[str, Any]:
    """Each method's mean over seeds, per data set, beside the published rows."""
    summary = {}
    for name in dict.fromkeys(r["config"] for r in runs):
        for data in (*DISTRIBUTIONS, "stacked"):
            mine = [r for r in runs if r["config"] == name and r["data"] == data]
            if not mine:
                continue
            row: dict[str, Any] = {"runs": len(mine)}
            for k in (*COLUMNS, "seconds", "cpu_seconds"):
                values = [r[k] for r in mine if r.get(k) is not None]
                if values:
                    row[k] = statistics.fmean(values)
            if "rounds" in mine[0] and data in MODES:
                row["all_modes_round"] = [r["all_modes_round"] for r in mine]
                row["first_round_modes"] = [r["rounds"][0]["modes/captured"] for r in mine]
            summary[f"{name} {data}"] = row
    return {
        "seeds": seeds,
        "stacked": stacked,
        "summary": summary,
        "published": PUBLISHED,
        "runs": runs,
    }
