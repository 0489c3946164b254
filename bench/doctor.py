"""The doctor: a zoo of known-broken toy configurations, one per failure the toy data can
show, and known-healthy runs (the default run and the vanilla preset at the same
budget); gan-doctor's first finding against the failure built in (the confusion table),
its false alarms on the healthy runs, and for each broken run the measure before and
after its first printed remedy, at the same budget (modes and exact W1: independent of
the rules). Each run is gan-train as a user types it, ring8 unless named, 1,500 steps,
seed 0, one thread; a run already in --work (a complete metrics.jsonl) is read again."""

from __future__ import annotations

import shutil
from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import Any

from bench.common import DONE, train_once

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
# Fashion-MNIST (Debian's files), the unconditional recipe on 64 images: by step 500 its
# critic tells them from held-out images. (A generator that copies them needs many times
# longer than this part's budget on a CPU: `memorization` has no run here.)
IMAGE_ZOO = {"critic_overfits": ["data.fraction=0.00107"]}
# 1,500 steps (a DCGAN step takes about 0.7 s on one core of the machine of the results)
IMAGE_RUN = [
    "+experiment=fashion_mnist_best",
    "trainer.steps=1500",
    "trainer.eval_every=250",
    "data.download=false",
]
HEALTHY = {
    "default": [],
    "vanilla": ["loss=vanilla"],
    "ring8_best": ["+experiment=ring8_best"],
    "grid25_best": ["+experiment=grid25_best"],
}
# the recipe's first 1,500 of its 9,000 steps, as the zoo's image run: the whole recipe
# takes hours on one core of the machine of the results
IMAGE_HEALTHY = {"fashion_mnist_best": IMAGE_RUN}
MEASURES = ("modes/captured", "wasserstein/exact", "fid/classifier", "health/copy_rate")
FIGURES = (*ZOO, *IMAGE_ZOO)


def _measures(run: Path) -> dict[str, float]:
    from gan_cli.core.records import read_jsonl

    final: dict[str, float] = {}
    for record in read_jsonl(run / "metrics.jsonl"):
        final.update({k: record[k] for k in MEASURES if k in record})
    return final


def doctor(quick: bool, work: Path) -> dict[str, Any]:
    """Train what --work lacks, then read every run."""
    zoo, healthy = _jobs(quick, work)
    jobs = [(f"healthy_{k}", v, work) for k, v in healthy.items()][:1]  # the longest first
    jobs += [(f"zoo_{k}", v, work) for k, v in zoo.items()]
    jobs += [(f"healthy_{k}", v, work) for k, v in healthy.items()][1:]
    with ThreadPool(2) as pool:  # one process a core, one job at a time each
        list(pool.imap_unordered(train_once, jobs))
    remedied = _remedies(zoo, work)
    with ThreadPool(2) as pool:
        list(pool.imap_unordered(train_once, remedied))
    return {**_read(zoo, healthy, work), "cost": health_cost(quick, work), "floors": toy_floors()}


def record(work: Path) -> dict[str, Any]:
    """What the runs a stopped or running bench finished in --work show; trains nothing."""
    zoo, healthy = _jobs(False, work)
    done = lambda name: (work / name / DONE).is_file()  # noqa: E731
    zoo = {k: v for k, v in zoo.items() if done(f"zoo_{k}")}
    healthy = {k: v for k, v in healthy.items() if done(f"healthy_{k}")}
    return {**_read(zoo, healthy, work, done), "cost": health_cost(False, work)} | {
        "floors": toy_floors()
    }


def toy_floors(seeds: int = 3) -> dict[str, float]:
    """The exact W1 of 2,000 fresh points of each toy distribution to its 2,000 held-out
    ones, the mean over seeds: the floor gan_cli.doctor.rules.TOY_FLOOR holds."""
    import torch

    from gan_cli.data.toy2d import DISTRIBUTIONS, Toy2D
    from gan_cli.metrics.exact_w1 import exact_w1

    floors = {}
    for dist in DISTRIBUTIONS:
        values = []
        for seed in range(seeds):
            heldout = Toy2D(distribution=dist, seed=seed).heldout
            fresh = DISTRIBUTIONS[dist](len(heldout), torch.Generator().manual_seed(100 + seed))
            values.append(exact_w1(fresh, heldout))
        floors[dist] = sum(values) / seeds
    return floors


def _jobs(quick: bool, work: Path) -> tuple[dict, dict]:
    from bench.conditional import fashion

    zoo = dict(list(ZOO.items())[:2]) if quick else dict(ZOO)
    healthy = {"default": []} if quick else dict(HEALTHY)
    root = None if quick else fashion(work)
    if root is not None:  # the image failures, where the real images are at hand
        data = [f"data.root={root}"]
        zoo = {k: [*IMAGE_RUN, *data, *v] for k, v in IMAGE_ZOO.items()} | zoo
        healthy = {k: [*v, *data] for k, v in IMAGE_HEALTHY.items()} | healthy
    return zoo, healthy


def _remedies(zoo: dict, work: Path) -> list:
    """The zoo runs trained again with the first remedy gan-doctor prints for them."""
    from gan_cli.doctor.report import diagnose_run, with_remedy

    jobs = []
    toy_first = sorted(zoo.items(), key=lambda kv: kv[0] in IMAGE_ZOO)  # the quick ones first
    for built, overrides in toy_first:
        d = diagnose_run(work / f"zoo_{built}")
        if d.findings and d.findings[0].remedies:
            jobs.append(
                (f"remedy_{built}", with_remedy(overrides, d.findings[0].remedies[0]), work)
            )
    return jobs


def _read(zoo: dict, healthy: dict, work: Path, done=lambda name: True) -> dict[str, Any]:
    from gan_cli.doctor.figure import draw
    from gan_cli.doctor.report import diagnose_run, load

    rows = []
    for built, overrides in zoo.items():
        d = diagnose_run(work / f"zoo_{built}")
        row = {"built": built, "overrides": overrides, "findings": [f.rule for f in d.findings]}
        row["before"] = _measures(d.path)
        if d.findings and d.findings[0].remedies:
            row["remedy"] = list(d.findings[0].remedies[0].overrides)
            if done(f"remedy_{built}"):
                cured = diagnose_run(work / f"remedy_{built}")
                row["after"] = _measures(cured.path)
                row["after_findings"] = [f.rule for f in cured.findings]
        if built in FIGURES and d.findings:
            draw(d, load(d.path), work / f"doctor_{built}.png")
        rows.append(row)
    found = {k: [f.rule for f in diagnose_run(work / f"healthy_{k}").findings] for k in healthy}
    measures = {k: _measures(work / f"healthy_{k}") for k in healthy}
    return {"zoo": rows, "healthy": found, "healthy_measures": measures}


def figures(work: Path, results: Path) -> None:
    """The findings' figures into bench/results/ (the guide shows them)."""
    for built in FIGURES:
        png = work / f"doctor_{built}.png"
        if png.is_file():
            shutil.copy(png, results / png.name)


COST_CASES = {  # the defaults of each model: what the health scalars cost a logged step
    "mlp toy2d wgan_gp": ["model=mlp", "data=toy2d", "loss=wgan_gp"],
    "dcgan cifar10 vanilla": ["model=dcgan", "data=cifar10", "loss=vanilla"],
    "dcgan cifar10 wgan": ["model=dcgan", "data=cifar10", "loss=wgan"],
}


def health_cost(quick: bool, work: Path) -> dict[str, Any]:
    """Seconds of a training step, and of the health scalars of one logged step (read
    from that step's output and gradients, as the loop does), on the CPU; their share
    of a step at the default cadence (trainer.log_every steps per logged step)."""
    import time

    import torch

    from bench.common import config, data_root
    from gan_cli.config.build import assemble
    from gan_cli.config.spec import check
    from gan_cli.training.health import health
    from gan_cli.training.step import Guard, autocast, train_step

    steps = 5 if quick else 30
    out: dict[str, Any] = {}
    for name, overrides in COST_CASES.items():
        root = [f"data.root={data_root(work / 'data')}"] if "data=toy2d" not in overrides else []
        cfg = check(config(*overrides, *root, "logger=none"))
        gan, data = assemble(cfg, torch.device("cpu"))
        guard, precision = Guard("stop", None), autocast(torch.device("cpu"), "32")
        train_step(gan, data, 1, guard, precision)  # warm up
        start = time.perf_counter()
        for step in range(steps):
            result = train_step(gan, data, step + 2, guard, precision)
        step_s = (time.perf_counter() - start) / steps
        start = time.perf_counter()
        for _ in range(steps):
            constraint = gan.constraint.health(gan.critic)
            health(gan.generator, gan.critic, result, gan.objective.decision, constraint)
        health_s = (time.perf_counter() - start) / steps
        every = cfg.trainer.log_every
        out[name] = {
            "step_s": step_s,
            "health_s": health_s,
            "log_every": every,
            "share": health_s / (every * step_s),
        }
    return out
