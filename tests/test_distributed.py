"""Several processes train one run: two gloo ranks under torchrun, and submitit's tasks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_cli.training.checkpoint import load_checkpoint
from tests.helpers import (
    CADENCE,
    clean_env,
    gan_train,
    jsonl,
    wandb_ids,
)

SLOW = pytest.mark.slow


# the default suite runs one loss; the critic's extra steps (wgan_gp) and a third
# network trained through backward(inputs=...) (veegan) in the slow one
@pytest.mark.parametrize(
    "loss", [pytest.param(loss, marks=SLOW) for loss in ("wgan_gp", "veegan", "vanilla")]
)
def test_two_gloo_processes_train_one_run(loss, workdir):
    """torchrun with 2 CPU processes: the ranks' weights stay identical (also under the
    gradient penalty's double backward, and for each of a GAN on pairs' three networks),
    each rank draws its own data, and there is one run folder, one metrics.jsonl and one
    W&B run."""
    ranks = workdir / "ranks"
    worker = Path(__file__).with_name("ddp_worker.py")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(worker),
            f"loss={loss}",
            *CADENCE,
            "trainer.steps=20",
            "trainer.device=cpu",
        ],
        cwd=workdir,
        env=clean_env(GAN_TEST_RANKS=str(ranks), PYTHONPATH=str(worker.parents[1])),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (run_dir,) = (workdir / "outputs").glob("*/*")  # one run folder, rank 0's
    assert [r["step"] for r in jsonl(run_dir / "metrics.jsonl")] == [5, 10, 15, 20]
    assert len(wandb_ids(run_dir)) == 1
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    r0, r1 = (torch.load(ranks / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for net in set(r0) - {"batch"}:
        for k in r0[net]:
            assert torch.equal(r0[net][k], r1[net][k]), f"{net}.{k} differs between ranks"
    saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert all(torch.equal(saved["generator"][k], r0["generator"][k]) for k in r0["generator"])
    assert len(saved["rng"]) == 2  # each rank's random streams, for an exact resume
    assert not torch.equal(r0["batch"], r1["batch"])  # each rank its own data


@pytest.mark.slow  # two submitit tasks; the gloo test covers two processes training one run
def test_submitit_tasks_train_one_run_together(workdir):
    """hydra.launcher.tasks_per_node=2: the job's two tasks are the ranks of one
    DistributedDataParallel run (as they would be across SLURM nodes)."""
    args = [
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.tasks_per_node=2",
        "hydra.sweep.dir=sweep",
        "trainer.device=cpu",
        *CADENCE,
        "trainer.steps=20",
    ]
    run = gan_train(*args, cwd=workdir)
    assert run.returncode == 0, run.stdout + run.stderr
    (job,) = [
        p
        for p in (workdir / "sweep").iterdir()
        if p.is_dir() and p.name != "wandb" and not p.name.startswith(".")
    ]
    assert "DistributedDataParallel over 2 processes on cpu" in (job / "train.log").read_text()
    assert [r["step"] for r in jsonl(job / "metrics.jsonl")] == [5, 10, 15, 20]
    assert len(wandb_ids(job)) == 1
    assert len(load_checkpoint(job / "checkpoints" / "last.pt")["rng"]) == 2
