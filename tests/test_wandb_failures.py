"""W&B never stops training: a W&B that cannot start falls back to offline, or to
metrics.jsonl alone; one that crashes mid-run is left behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from gan_cli.cli import gan_train as train
from tests.helpers import (
    CADENCE,
    children,
    jsonl,
    popen_train,
    run_in_process,
    wait_for_step,
    wandb_ids,
)


def test_wandb_that_cannot_start_falls_back_to_offline(workdir, in_process):
    env = {"WANDB_API_KEY": "a" * 40, "WANDB_BASE_URL": "http://127.0.0.1:9"}
    env["WANDB_INIT_TIMEOUT"] = "1"
    args = [*CADENCE, "trainer.steps=20", "logger.mode=online", "hydra.run.dir=r"]
    run = in_process(train.main, *args, cwd=workdir, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("W&B could not start in online mode") == 1
    assert [r["step"] for r in jsonl(workdir / "r" / "metrics.jsonl")] == [5, 10, 15, 20]
    assert len(wandb_ids(workdir / "r")) == 1  # the offline run, for `wandb sync` later


def test_wandb_that_cannot_start_at_all_leaves_metrics_jsonl(workdir, capsys, monkeypatch):
    import wandb

    def broken(**_):
        raise wandb.errors.CommError("no service")

    monkeypatch.setattr(wandb, "init", broken)
    args = [*CADENCE, "trainer.steps=20", "hydra.run.dir=r"]
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 0, output
    assert "metrics.jsonl only" in output
    assert [r["step"] for r in jsonl(workdir / "r" / "metrics.jsonl")] == [5, 10, 15, 20]


@pytest.mark.slow
def test_wandb_crashing_mid_run_does_not_stop_training(workdir):
    proc = popen_train(*CADENCE, "trainer.steps=100", "hydra.run.dir=r", cwd=workdir)
    wait_for_step(workdir / "r", 10, proc)
    services = [
        p for p in children(proc.pid) if b"wandb" in Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    assert services, "no W&B service process found"
    for p in services:
        os.kill(p, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert (out + err).count("W&B failed") == 1
    assert [r["step"] for r in jsonl(workdir / "r" / "metrics.jsonl")] == list(range(5, 101, 5))
