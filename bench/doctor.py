"""The doctor: a zoo of known-broken toy configurations, one per failure the toy data can
show, and known-healthy runs (the default run and the vanilla preset at the same
budget); gan-doctor's first finding against the failure built in (the confusion table),
its false alarms on the healthy runs, and for each broken run the measure before and
after its first printed remedy, at the same budget (modes and exact W1: independent of
the rules). Each run is gan-train as a user types it, ring8 unless named, 1,500 steps,
seed 0, one thread; a run already in --work (a complete metrics.jsonl) is read again."""

from __future__ import annotations

import shutil
import subprocess
import sys
from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import Any

ZOO = {  # the failure built in -> gan-train overrides
    "vanishing_gradients": [
        "loss=vanilla",
        "loss.saturating=true",
        "loss.n_critic=10",
        "optim.d.lr=1e-3",
    ],
    "critic_overpowers": ["loss=vanilla", "loss.n_critic=10", "optim.d.lr=1e-3"],
    "clip_too_tight": ["loss=wgan", "loss.clip=0.001"],
    "clip_too_loose": ["loss=wgan", "loss.clip=1"],
    "mode_collapse": ["loss=vanilla", "data.distribution=grid25"],
    "no_progress": ["optim.g.lr=1e-6"],
    "divergence": ["loss=fgan", "loss.divergence=reverse_kl"],
}
HEALTHY = {"default": [], "vanilla": ["loss=vanilla"]}
FIGURES = ("vanishing_gradients", "clip_too_tight", "clip_too_loose", "mode_collapse")


def _train(job: tuple[str, list[str], Path]) -> Path:
    name, overrides, work = job
    run = work / name
    if (run / "checkpoints" / "last.pt").is_file():
        return run
    shutil.rmtree(run, ignore_errors=True)
    command = [sys.executable, "-m", "gan_cli.train", *overrides, "logger=none"]
    command += ["trainer.threads=1", f"hydra.run.dir={run}"]
    subprocess.run(command, capture_output=True, check=False)
    return run


def _measures(run: Path) -> dict[str, float]:
    from gan_cli.core.records import read_jsonl

    final: dict[str, float] = {}
    for record in read_jsonl(run / "metrics.jsonl"):
        final.update({k: record[k] for k in ("modes/captured", "wasserstein/exact") if k in record})
    return final


def doctor(quick: bool, work: Path) -> dict[str, Any]:
    from gan_cli.doctor.figure import draw
    from gan_cli.doctor.report import diagnose_run, load, with_remedy

    zoo = dict(list(ZOO.items())[:2]) if quick else ZOO
    jobs = [(f"zoo_{k}", v, work) for k, v in zoo.items()]
    jobs += [(f"healthy_{k}", v, work) for k, v in HEALTHY.items()]
    with ThreadPool(2) as pool:  # one process a core
        pool.map(_train, jobs)
    rows, remedied = [], []
    for built, overrides in zoo.items():
        d = diagnose_run(work / f"zoo_{built}")
        first = d.findings[0] if d.findings else None
        remedy = first.remedies[0] if first and first.remedies else None
        row = {"built": built, "overrides": overrides, "findings": [f.rule for f in d.findings]}
        row["before"] = _measures(d.path)
        if remedy is not None:
            row["remedy"] = list(remedy.overrides)
            remedied.append((f"remedy_{built}", with_remedy(overrides, remedy), work))
        rows.append(row)
        if built in FIGURES and first is not None:
            draw(d, load(d.path), work / f"doctor_{built}.png")
    with ThreadPool(2) as pool:
        pool.map(_train, remedied)
    for row in rows:
        if "remedy" in row:
            cured = diagnose_run(work / f"remedy_{row['built']}")
            row["after"] = _measures(cured.path)
            row["after_findings"] = [f.rule for f in cured.findings]
    healthy = {k: [f.rule for f in diagnose_run(work / f"healthy_{k}").findings] for k in HEALTHY}
    healthy_measures = {k: _measures(work / f"healthy_{k}") for k in HEALTHY}
    return {"zoo": rows, "healthy": healthy, "healthy_measures": healthy_measures, "steps": 1500}


def figures(work: Path, results: Path) -> None:
    """The findings' figures into bench/results/ (the guide shows them)."""
    for built in FIGURES:
        png = work / f"doctor_{built}.png"
        if png.is_file():
            shutil.copy(png, results / png.name)
