"""12. The WGAN-GP paper's architecture study (Gulrajani et al. 2017, Section 5.1 and
Figure 2) on real Fashion-MNIST at 32x32, through the commands a user types:

- `gan-train -m +sweep=architectures`: the +arch variants x DCGAN (vanilla), LSGAN,
  WGAN with clipping and WGAN-GP; the summary's samples.png (each job's last grid) and
  samples.csv (its classes/score) are kept as architectures.png and in the results.
  The 101-layer ResNet (+arch=resnet101) costs some 40 times a DCGAN step on a CPU: its
  four methods are timed over a few steps (`resnet101`), not trained to the budget;
- `gan-train -m +sweep=random_architectures`: architectures drawn by model.arch_seed, each
  with vanilla and wgan_gp; the summary's robustness.csv beside the paper's table.

Every job has the same budget: `trainer.steps` generator steps (each after its loss's
n_critic critic steps), batch 64, seed 0, one thread, two jobs at a time (joblib). The
score is `classes/score` at the end, with the real data's own `floor/classes/score` as
its ceiling. Each job's cost is the seconds from its folder's creation to its
status.json. Fashion-MNIST comes from Debian's dataset-fashion-mnist (or
GAN_BENCH_FASHION); without it the part is skipped and says why.

With `--reuse`, the jobs an earlier, stopped run finished are kept: those it left in
--work (its job folders) and, for those not there, those it recorded in
bench/results/architectures.json (the same study's command). A study whose jobs all
finished is not run again, and the random study runs only the architectures with a job
missing (each job is deterministic: seed 0, one thread), so the results are those of one
uninterrupted run; its table is made from all the jobs, by the summary's own
`robustness.study`. Only `wall_seconds` then counts this run's part alone (`reused_jobs`
says how many were kept)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bench.common import RESULTS
from bench.conditional import _classifier, fashion
from bench.stacked import FASHION
from gan_cli.analysis import robustness

FIGURE, TABLE_FIGURE = "architectures.png", "architectures_robustness.png"
LOSSES = ("vanilla", "wgan_gp")  # the random study's pair
# the variants trained to the budget on a CPU: all but resnet101
ON_CPU = ("baseline", "g_nobn_const", "g_mlp", "no_norm", "gated", "tanh")
PAPER = [  # Gulrajani et al. 2017, Figure 2 (left): 200 architectures, Inception score
    {"threshold": 1.0, "only_vanilla": 0, "only_wgan_gp": 8, "both": 192, "neither": 0},
    {"threshold": 3.0, "only_vanilla": 1, "only_wgan_gp": 88, "both": 110, "neither": 1},
    {"threshold": 5.0, "only_vanilla": 0, "only_wgan_gp": 147, "both": 42, "neither": 11},
    {"threshold": 7.0, "only_vanilla": 1, "only_wgan_gp": 104, "both": 5, "neither": 90},
    {"threshold": 9.0, "only_vanilla": 0, "only_wgan_gp": 0, "both": 0, "neither": 200},
]


def command(sweep: str, steps: int, *extra: str) -> list[str]:
    """The overrides of one study after `gan-train -m` (what the README shows)."""
    return [
        f"+sweep={sweep}",
        "data=fashion_mnist",
        f"trainer.steps={steps}",
        "trainer.eval_every=0",  # classes/score at the end only
        "trainer.sample_every=0",  # the last sample grid only
        "metrics.eval=[classifier]",
        *extra,
    ]


def architectures(quick: bool, work: Path, reuse: bool = False) -> dict[str, Any]:
    root = fashion(work)
    if root is None:
        return {"skipped": f"no Fashion-MNIST (GAN_BENCH_FASHION, {FASHION})"}
    # generator steps of the variants' jobs, of the random architectures' jobs, and of
    # the resnet101 timings (each job's steps after its loss's n_critic critic steps)
    steps, random_steps, n_random, timed = (3, 3, 2, 1) if quick else (150, 100, 24, 3)
    variants = ["+arch=baseline,g_mlp"] if quick else [f"+arch={','.join(ON_CPU)}"]
    accuracy = _classifier(root)  # trained once and cached, before the jobs share it
    grid = command("architectures", steps, *variants)
    random = command("random_architectures", random_steps, f"model.arch_seed=range({n_random})")
    out: dict[str, Any] = {
        "steps": steps,
        "random_steps": random_steps,
        "seed": 0,
        "classifier_accuracy": accuracy,
    }
    resnet = command("architectures", timed, "+arch=resnet101")
    earlier = _earlier(quick) if reuse else {}
    for name, overrides in (("variants", grid), ("resnet101", resnet), ("random", random)):
        sweep_dir = work / "architectures" / name
        line = "gan-train -m " + " ".join(overrides)
        found = _job_folders(sweep_dir) if reuse else {}
        kept = {k: f for k, f in found.items() if (f / "status.json").is_file()}
        before = earlier.get(name, {})
        recorded = {} if before.get("command") != line else {_key(j): j for j in before["jobs"]}
        recorded = {k: j for k, j in recorded.items() if k not in kept and j["seconds"]}
        todo: list[str] | None = overrides
        if (kept or recorded) and name == "random":  # only the architectures with a job missing
            done = kept.keys() | recorded.keys()
            seeds = [s for s in range(n_random) if sum((s, x) in done for x in LOSSES) < 2]
            keep = [o for o in overrides if not o.startswith("model.arch_seed=")]
            todo = [*keep, f"model.arch_seed={','.join(map(str, seeds))}"] if seeds else None
            for (seed, _), folder in found.items():  # their jobs start afresh
                if seed in seeds:
                    shutil.rmtree(folder)
            recorded = {k: j for k, j in recorded.items() if k[0] not in seeds}
        elif kept and (sweep_dir / "summary.csv").is_file():
            todo, recorded = None, {}  # this study's sweep ran to its end
        elif recorded and "stopped" not in before:
            todo, kept = None, {}  # ... and was recorded in the results
        else:
            recorded = {}
        seconds = _sweep(todo, root, sweep_dir, fresh=not kept) if todo else 0.0
        jobs = _jobs(sweep_dir) if (sweep_dir / "summary.csv").is_file() else []
        out[name] = {
            "command": line,
            "wall_seconds": seconds,
            "reused_jobs": len(kept) + len(recorded),
            "jobs": sorted([*recorded.values(), *jobs], key=lambda j: str(_key(j))),
        }
    variants_dir = work / "architectures" / "variants"
    if (variants_dir / "samples.csv").is_file():
        out["variants"]["scores"] = _csv(variants_dir / "samples.csv")
        if not quick:
            shutil.copyfile(variants_dir / "samples.png", RESULTS / FIGURE)
    else:  # the recorded run's (and its figure, committed with it)
        out["variants"]["scores"] = earlier["variants"]["scores"]
    random_dir = work / "architectures" / "random"
    found = robustness.study(out["random"]["jobs"], ["model.arch_seed", "loss"])
    if not isinstance(found, robustness.Study):
        raise RuntimeError(f"the random study has no table: {found}")
    robustness.write_study(found, random_dir)  # over all its jobs, those reused included
    out["random"]["pairs"] = found.pairs
    out["random"]["table"] = found.rows
    out["random"]["paper_table"] = PAPER
    costs = [j["seconds"] for j in out["random"]["jobs"] if j["seconds"] is not None]
    per_job = statistics.mean(costs) if costs else float("nan")
    out["random"]["seconds_per_job"] = per_job
    # the paper's study: 200 architectures x 2 losses, at this budget, and at its own
    # 200,000 generator steps (from the jobs' training speed)
    out["random"]["full_study_cpu_hours"] = 400 * per_job / 3600
    rates = [j["time/steps_per_s"] for j in out["random"]["jobs"] if "time/steps_per_s" in j]
    hours = [200_000 / r / 3600 for r in rates]
    out["random"]["paper_budget_cpu_hours"] = 2 * 200 * statistics.mean(hours) if hours else None
    if not quick:
        shutil.copyfile(random_dir / "robustness.png", RESULTS / TABLE_FIGURE)
    return out


def _earlier(quick: bool) -> dict[str, Any]:
    """The studies the committed results recorded (of a run at the same budget)."""
    path = RESULTS / "architectures.json"
    recorded = json.loads(path.read_text()) if path.is_file() else None
    if not recorded or recorded.get("quick") != quick:
        return {}
    return recorded["result"]


def _key(job: dict[str, Any]) -> tuple[Any, str]:
    """A job's row's key, as _job_folders gives it: (model.arch_seed or +arch, loss)."""
    seed = job.get("model.arch_seed")
    return (int(seed) if seed not in (None, "") else job.get("+arch"), job.get("loss", ""))


def _job_folders(sweep_dir: Path) -> dict[tuple[Any, str], Path]:
    """The job folders an earlier run of a study left, by (model.arch_seed or +arch, loss)."""
    out = {}
    for overrides_file in sweep_dir.glob("*/.hydra/overrides.yaml"):
        given = dict(o.split("=", 1) for o in yaml.safe_load(overrides_file.read_text()))
        seed = given.get("model.arch_seed")
        key = (int(seed) if seed is not None else given.get("+arch"), given.get("loss", ""))
        out[key] = overrides_file.parent.parent
    return out


def _sweep(overrides: list[str], root: Path, sweep_dir: Path, fresh: bool = True) -> float:
    """Run one study through gan-train's console script (into an emptied folder, unless
    not `fresh`: then beside the jobs already there); the seconds it took."""
    import time

    if fresh and sweep_dir.exists():
        shutil.rmtree(sweep_dir)
    args = [
        str(Path(sys.executable).with_name("gan-train")),
        "-m",
        *overrides,
        f"data.root={root}",
        "data.download=false",
        "trainer.threads=1",  # one process per core
        "trainer.ckpt_every=0",
        "logger=none",
        "trainer.device=cpu",
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={os.cpu_count() or 1}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if not (sweep_dir / "summary.csv").is_file():
        raise RuntimeError(f"the sweep wrote no summary (exit {done.returncode}): {done.stderr}")
    return seconds


DRAWN = ("g_act", "d_act", "g_depth", "d_depth", "g_norm", "d_norm", "g_channels", "d_channels")
JOB_KEYS = ("+arch", "model.arch_seed", "loss")  # what tells the jobs apart
SCALARS = ("classes/score", "floor/classes/score", "fid/classifier", "time/steps_per_s")


def _jobs(sweep_dir: Path) -> list[dict[str, Any]]:
    """Each job of the sweep's summary.csv (see _job)."""
    return [_job(Path(row["folder"])) for row in _csv(sweep_dir / "summary.csv")]


def _job(folder: Path) -> dict[str, Any]:
    """A finished job: its overrides (JOB_KEYS), status, scores, what it drew, and its
    seconds (from its folder's config.yaml to its status.json)."""
    given = dict(
        o.split("=", 1) for o in yaml.safe_load((folder / ".hydra/overrides.yaml").read_text())
    )
    status = json.loads((folder / "status.json").read_text())
    started = folder / ".hydra" / "config.yaml"
    seconds = (folder / "status.json").stat().st_mtime - started.stat().st_mtime
    keep: dict[str, Any] = {
        "status": status["status"],
        **{k: given[k] for k in JOB_KEYS if k in given},
    }
    keep |= {k: float(v) for k, v in status["metrics"].items() if k in SCALARS}
    if "model.arch_seed" in given and (folder / "config.yaml").is_file():  # what it drew
        model = yaml.safe_load((folder / "config.yaml").read_text())["model"]
        keep["drawn"] = {k: model.get(k) for k in DRAWN}
    return {**keep, "error": status.get("error", ""), "seconds": seconds}


def record(work: Path) -> dict[str, Any]:
    """The random study as far as a stopped (or still running) `--work` has it: the
    recorded jobs and those finished there since, the table over the architectures whose
    two jobs are done; marked partial. Runs nothing (bench --only architectures --record)."""
    earlier = _earlier(quick=False)
    random = dict(earlier["random"])
    jobs = {_key(j): j for j in random["jobs"]}
    for key, folder in _job_folders(work / "architectures" / "random").items():
        if (folder / "status.json").is_file():
            jobs[key] = _job(folder)
    seeds = {k[0] for k in jobs}
    paired = [j for k, j in jobs.items() if all((k[0], x) in jobs for x in LOSSES)]
    found = robustness.study(paired, ["model.arch_seed", "loss"])
    if not isinstance(found, robustness.Study):
        raise RuntimeError(f"the random study has no table: {found}")
    n_random = int(random["command"].split("range(")[1].rstrip(")"))
    random |= {
        "jobs": sorted(jobs.values(), key=lambda j: str(_key(j))),
        "pairs": found.pairs,
        "table": found.rows,
        "stopped": f"stopped after {len(jobs)} of {2 * n_random} jobs ({len(seeds)} "
        f"architectures begun); the table pairs the {found.pairs} architectures whose two "
        "jobs finished",
    }
    costs = [j["seconds"] for j in jobs.values() if j.get("seconds")]
    random["seconds_per_job"] = statistics.mean(costs)
    random["full_study_cpu_hours"] = 400 * random["seconds_per_job"] / 3600
    return {**earlier, "random": random}


def _csv(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
