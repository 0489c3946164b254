"""Sweeps (gan-train -m): one W&B run per job in one group, failures recorded, a summary."""

import csv
import math

import pytest
import yaml

from gan_cli.cli.gan_train import main as train_main
from tests.helpers import gan_train, jsonl, wandb_records

TINY = ["trainer.steps=3", "data.heldout_size=100", "trainer.log_every=1"]


LAUNCHERS = {"basic": [], "submitit_local": ["hydra/launcher=submitit_local"]}


# the sweep through submitit's local launcher repeats the basic one's checks: slow
# (as test_two_job_lambda_sweep's)
@pytest.fixture(
    scope="module", params=["basic", pytest.param("submitit_local", marks=pytest.mark.slow)]
)
def clip_sweep(request, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("user")
    args = ["-m", "+sweep=wgan_clip", "loss.clip=0.001,0.01,0.1", *LAUNCHERS[request.param]]
    result = gan_train(*args, *TINY, cwd=cwd)
    assert result.returncode == 0, result.stderr
    (sweep_dir,) = (cwd / "outputs" / "multirun").glob("*/*")
    return sweep_dir, result


def test_one_folder_and_one_wandb_run_per_job_in_one_group(clip_sweep):
    sweep_dir, _ = clip_sweep
    jobs = sorted(p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir())
    assert len(jobs) == 3 and all("loss.clip=" in p.name for p in jobs)
    group = f"{sweep_dir.parent.name}_{sweep_dir.name}"
    for job in jobs:
        (run,) = [r.run for r in wandb_records(job) if r.WhichOneof("record_type") == "run"]
        assert run.run_group == group
        clip = job.name.split("loss.clip=")[1].split(",")[0]
        assert f"loss.clip={clip}" in run.tags and f"loss.clip={clip}" in run.display_name


def test_summary_rows_match_each_jobs_metrics(clip_sweep):
    sweep_dir, result = clip_sweep
    rows = list(csv.DictReader(open(sweep_dir / "summary.csv")))
    assert sorted(float(r["loss.clip"]) for r in rows) == [0.001, 0.01, 0.1]
    for row in rows:
        assert row["status"] == "ok"
        final = {}
        for record in jsonl(sweep_dir / row["job"] / "metrics.jsonl"):
            final.update(record)
        for key in ("loss/d", "wasserstein/exact", "wasserstein/critic"):
            assert math.isclose(float(row[key]), final[key], rel_tol=1e-9), key
    assert (sweep_dir / "summary.png").stat().st_size > 0
    assert "sweep summary" in result.stdout
    (summary,) = (sweep_dir / "wandb").glob("offline-run-*")  # the group's summary run
    assert summary.is_dir()


def test_a_failed_job_does_not_stop_the_sweep_and_sets_the_exit_status(workdir, in_process):
    """A job that fails as it trains (a learning rate that makes the losses NaN at step
    1: no check can tell) is recorded, and the sweep goes on."""
    result = in_process(
        train_main,
        "-m",
        "optim.d.lr=0.0001,1e38,0.0002",
        "trainer.steps=3",
        "logger=none",
        "data.heldout_size=100",
        cwd=workdir,
    )
    assert result.returncode == 1  # one job failed
    (sweep_dir,) = (workdir / "outputs" / "multirun").glob("*/*")
    rows = {r["optim.d.lr"]: r for r in csv.DictReader(open(sweep_dir / "summary.csv"))}
    assert rows["0.0001"]["status"] == "ok" and rows["0.0002"]["status"] == "ok"
    assert rows["1e+38"]["status"] == "failed" and "loss/d is nan" in rows["1e+38"]["error"]


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_seed_preset_shows_mean_and_spread_and_survives_failed_jobs(workdir, in_process):
    """+sweep=seeds: every setting over 3 seeds, summarized as mean and standard
    deviation in a table and summary_seeds.csv; a setting whose jobs all fail (a
    learning rate that makes the losses NaN) is a row too, not a crash."""
    args = ["-m", "+sweep=seeds", "optim.d.lr=0.0001,1e38", "logger=none", *TINY]
    result = in_process(train_main, *args, cwd=workdir)
    assert result.returncode == 3, result.stderr  # the three jobs with lr=1e38
    assert "Traceback" not in result.stdout + result.stderr
    (sweep_dir,) = (workdir / "outputs" / "multirun").glob("*/*")
    rows = list(csv.DictReader(open(sweep_dir / "summary.csv")))
    assert [(r["optim.d.lr"], r["trainer.seed"]) for r in rows] == [
        (lr, seed) for lr in ("0.0001", "1e+38") for seed in ("0", "1", "2")
    ]
    by_seed = {r["optim.d.lr"]: r for r in csv.DictReader(open(sweep_dir / "summary_seeds.csv"))}
    ok = (by_seed["0.0001"]["seeds"], by_seed["0.0001"]["ok"], by_seed["1e+38"]["ok"])
    assert ok == ("3", "3", "0")
    exact = [float(r["wasserstein/exact"]) for r in rows[:3]]
    mean = sum(exact) / 3
    std = math.sqrt(sum((x - mean) ** 2 for x in exact) / 2)
    assert float(by_seed["0.0001"]["wasserstein/exact/mean"]) == pytest.approx(mean)
    assert float(by_seed["0.0001"]["wasserstein/exact/std"]) == pytest.approx(std)
    assert "mean ± std over seeds" in result.stdout


@pytest.mark.parametrize(
    "launcher",
    [pytest.param(x, marks=pytest.mark.slow) if x != "basic" else x for x in sorted(LAUNCHERS)],
)
def test_two_job_lambda_sweep(launcher, workdir, in_process):
    args = ["-m", "loss=wgan_gp", "loss.gp_lambda=10,2", "logger=none", *LAUNCHERS[launcher]]
    if launcher == "basic":  # the installed command's sweep is clip_sweep's
        result = in_process(train_main, *args, *TINY, cwd=workdir)
    else:  # submitit starts its jobs in processes of their own
        result = gan_train(*args, *TINY, cwd=workdir)
    assert result.returncode == 0, result.stderr
    (sweep_dir,) = (workdir / "outputs" / "multirun").glob("*/*")
    rows = list(csv.DictReader(open(sweep_dir / "summary.csv")))
    assert [float(r["loss.gp_lambda"]) for r in rows] == [2.0, 10.0]  # as numbers, not text
    for row in rows:
        penalty = jsonl(sweep_dir / row["job"] / "metrics.jsonl")[-1]["loss/penalty"]
        assert math.isclose(float(row["loss/penalty"]), penalty, rel_tol=1e-9)
    assert (sweep_dir / "summary.png").is_file()


@pytest.mark.parametrize(
    ("preset", "key", "values"),
    [
        ("wgan_clip", "loss.clip", [10 ** (e / 2) for e in range(-6, 1)]),
        ("wgan_gp_lambda", "loss.gp_lambda", [10 ** (e / 2) for e in range(-2, 5)]),
        ("seeds", "trainer.seed", [0, 1, 2]),
    ],
)
def test_presets_expand_to_their_grid(preset, key, values, workdir, in_process):
    result = in_process(train_main, f"+sweep={preset}", "--cfg", "hydra", cwd=workdir)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.strip().startswith(f"{key}:"))
    grid = [float(v) for v in line.split(":", 1)[1].split(",")]
    assert grid == pytest.approx(values, rel=0.01)  # log-spaced, half a decade apart


def test_optuna_preset_minimizes_the_final_exact_w1(workdir, in_process):
    args = ["-m", "+sweep=optuna_wgan_gp", "hydra.sweeper.n_trials=2", "logger=none", *TINY]
    result = in_process(train_main, *args, cwd=workdir)
    assert result.returncode == 0, result.stderr
    (sweep_dir,) = (workdir / "outputs" / "multirun").glob("*/*")
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())["best_value"]
    rows = list(csv.DictReader(open(sweep_dir / "summary.csv")))
    assert len(rows) == 2
    assert best == pytest.approx(min(float(r["wasserstein/exact"]) for r in rows))


def test_the_summary_reads_whole_in_a_file(clip_sweep):
    """Redirected (not a terminal), the table is plain text: no box characters to cut,
    every column name whole, each metric once; summary.png is a grid of panels."""
    from PIL import Image

    sweep_dir, result = clip_sweep
    lines = result.stdout.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("sweep summary:"))
    header = lines[start + 1].split()
    end = next(i for i, x in enumerate(lines) if x.startswith("summary: "))
    assert not set("━│┃─┏┓┗┛") & set("".join(lines[start:end]))
    assert header[:3] == ["#", "status", "loss.clip"] and len(header) == len(set(header))
    assert {"wasserstein/exact", "modes/captured", "loss/d"} <= set(header)
    rows = [lines[start + 2 + i].split() for i in range(3)]
    assert [r[0] for r in rows] == ["0", "1", "2"] and all(len(r) == len(header) for r in rows)
    width, height = Image.open(sweep_dir / "summary.png").size
    assert width <= 1400 and height >= 2 * 290  # at most 4 panels a row, so several rows


def test_a_job_folder_name_fits_the_file_system_and_stays_unique():
    from gan_cli.cli.sweep import NAME_BYTES, job_folder

    short = "loss=wgan_gp,trainer.steps=3"
    assert job_folder(short) == short  # names as Hydra makes them, where they fit
    long = ",".join(f"model.key_{i}=value_{i}" for i in range(30))
    other = long.replace("value_29", "value_30")
    assert len(job_folder(long).encode()) <= NAME_BYTES < len(long)
    assert job_folder(long).startswith(long[:100]) and job_folder(long) != job_folder(other)
    # a path in a value never nests folders: one job, one folder of the sweep
    assert (
        job_folder("optimize=fid/classifier,data.x=/a/b") == "optimize=fid_classifier,data.x=_a_b"
    )
