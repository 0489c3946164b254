"""Preemption: a signal stops a run with a checkpoint and the command that continues it;
a kill -9 never leaves half a checkpoint; submitit requeues a preempted job."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from gan_cli.cli import gan_train as train
from gan_cli.training.checkpoint import load_checkpoint
from tests.helpers import (
    CADENCE,
    assert_same_run,
    children,
    cmdline,
    jsonl,
    popen_train,
    wait_for_step,
    wandb_records,
)

SLOW = pytest.mark.slow


# a real process, a signal, a resume: with the slow tests (SIGINT, Ctrl-C, takes SIGTERM's path)
@pytest.mark.parametrize(
    "sig", [pytest.param(s, marks=SLOW) for s in (signal.SIGTERM, signal.SIGINT)]
)
def test_a_signal_checkpoints_and_resume_auto_finishes(sig, workdir, in_process):
    common = [*CADENCE, "trainer.ckpt_every=0", "hydra.run.dir=run"]
    proc = popen_train(*common, "trainer.steps=400", cwd=workdir)
    wait_for_step(workdir / "run", 10, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    step = load_checkpoint(workdir / "run" / "checkpoints" / "last.pt")["step"]
    assert 10 <= step < 400
    assert f"stopped by {signal.Signals(sig).name} after step {step}" in err
    assert "trainer.resume=auto" in err
    # W&B was told and finished: the offline run holds its exit record
    records = wandb_records(workdir / "run")
    assert any(r.HasField("exit") for r in records)

    # on to 20 steps past the checkpoint (trainer.steps may change on a resume), on a
    # multiple of 20 where every cadence fires, as it would at the end of the 400
    end = f"trainer.steps={(step // 20 + 2) * 20}"
    resumed = in_process(train.main, *common, end, "trainer.resume=auto", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    steps = [r["step"] for r in jsonl(workdir / "run" / "metrics.jsonl")]
    assert steps == list(range(5, (step // 20 + 2) * 20 + 1, 5))
    if sig == signal.SIGTERM:  # and it is the run an uninterrupted one would have been
        straight = in_process(train.main, *common[:-1], end, "hydra.run.dir=straight", cwd=workdir)
        assert straight.returncode == 0
        assert_same_run(workdir / "run", workdir / "straight")


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_kill_9_while_writing_always_leaves_a_loadable_checkpoint(tmp_path):
    """A writer saving a 16 MB checkpoint in a loop, killed at random moments: what loads
    is always one whole save, its weights those of the step it records (each save's
    weights are a fixed integer tensor plus its step, so a file that mixed two saves, or
    held one save's step beside another's weights, would not give the base back)."""
    script = (
        "import sys, torch\n"
        "from gan_cli.training.checkpoint import save_checkpoint\n"
        "w = torch.randint(0, 1000, (2_000_000,), generator=torch.Generator().manual_seed(0))\n"
        "for step in range(10**9):\n"
        "    save_checkpoint({'step': step, 'w': w + step}, sys.argv[1])\n"
    )
    expected = torch.randint(0, 1000, (2_000_000,), generator=torch.Generator().manual_seed(0))
    path = tmp_path / "checkpoints" / "last.pt"
    rand = random.Random(0)
    last_step = -1
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", script, str(path)])
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rand.uniform(0.0, 0.5))
        proc.kill()
        proc.wait()
        state = load_checkpoint(path)
        assert torch.equal(state["w"] - state["step"], expected)
        last_step = state["step"]
    assert last_step >= 0


@SLOW
def test_kill_9_during_training_then_resume(workdir, in_process):
    common = [*CADENCE, "trainer.steps=100", "trainer.ckpt_every=1", "hydra.run.dir=run"]
    proc = popen_train(*common, cwd=workdir)
    wait_for_step(workdir / "run", 20, proc)
    time.sleep(random.Random(1).uniform(0, 0.5))
    proc.kill()
    proc.wait()
    step = load_checkpoint(workdir / "run" / "checkpoints" / "last.pt")["step"]
    assert step >= 19  # step 20 was logged, so step 19's checkpoint was written
    resumed = in_process(train.main, *common, "trainer.resume=auto", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    assert not list((workdir / "run" / "checkpoints").glob(".*.tmp"))


def test_a_preemption_crosses_processes():
    """A worker of a multiprocessing pool or of a joblib sweep hands its exception to the
    parent by pickling it: a Preempted that could not be unpickled killed the pool's result
    thread, and the parent then waited forever."""
    from gan_cli.training.preemption import Preempted

    sent = Preempted(signal.SIGTERM, 120, lambda *_: None)
    got = pickle.loads(pickle.dumps(sent))
    assert (got.signum, got.step, got.previous, str(got)) == (
        signal.SIGTERM,
        120,
        None,
        "stopped by SIGTERM after step 120",
    )


@pytest.mark.slow  # submitit's requeue; the signal tests cover the checkpoint and resume
def test_submitit_requeues_a_preempted_job_which_resumes(workdir):
    """SIGUSR2 (what SLURM sends a submitit job before preemption): the job checkpoints,
    submitit requeues it, and the requeued job resumes with trainer.resume=auto."""
    args = [
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.sweep.dir=sweep",
        "trainer.resume=auto",
        *CADENCE,
        "trainer.steps=200",
        "trainer.ckpt_every=0",
    ]
    proc = popen_train(*args, cwd=workdir)
    deadline = time.time() + 180
    while not (jobs := sorted((workdir / "sweep").glob("*/metrics.jsonl"))):
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    run = jobs[0].parent
    wait_for_step(run, 10, proc)
    tasks = [p for p in children(proc.pid) if b"submitit.core._submit" in cmdline(p)]
    assert len(tasks) == 1
    os.kill(tasks[0], signal.SIGUSR2)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    steps = [r["step"] for r in jsonl(run / "metrics.jsonl")]
    assert steps == list(range(5, 201, 5))
    log = (run / "train.log").read_text()  # both attempts of the job log there
    assert "Caught signal SIGUSR2" in log and "Requeued job" in log
    assert log.index("Requeued job") < log.index("resuming from")
    assert json.loads((run / "status.json").read_text())["status"] == "ok"
