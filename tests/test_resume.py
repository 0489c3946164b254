"""Resume: a run continued from its checkpoint is the run it would have been, bit for bit; a
checkpoint continues only the run it came from, and a run folder holds one run."""

from __future__ import annotations

import json
import shlex
import signal

import pytest
import torch
import yaml

from gan_cli.cli import gan_train as train
from gan_cli.training.checkpoint import load_checkpoint
from tests.helpers import (
    CADENCE,
    assert_same_run,
    jsonl,
    popen_train,
    run_in_process,
    wait_for_step,
    wandb_ids,
    wandb_records,
)


@pytest.mark.parametrize("loss", ["wgan_gp", "vanilla"])
def test_resume_is_bit_exact(loss, workdir, in_process):
    """N steps, then a resume for N more, give the weights and metrics of 2N in one go;
    the W&B run and metrics.jsonl continue."""
    common = [f"loss={loss}", *CADENCE, "trainer.ema_decay=0.9"]
    straight = in_process(
        train.main, *common, "trainer.steps=40", "hydra.run.dir=straight", cwd=workdir
    )
    assert straight.returncode == 0, straight.stderr
    first = in_process(train.main, *common, "trainer.steps=20", "hydra.run.dir=split", cwd=workdir)
    assert first.returncode == 0, first.stderr
    # a resume in the same folder continues what it logged
    again = in_process(
        train.main,
        *common,
        "trainer.steps=40",
        "trainer.resume=auto",
        "hydra.run.dir=split",
        cwd=workdir,
    )
    assert again.returncode == 0, again.stderr
    assert_same_run(workdir / "straight", workdir / "split")
    ema = [
        load_checkpoint(workdir / r / "checkpoints/last.pt")["generator_ema"]
        for r in ("straight", "split")
    ]
    assert all(torch.equal(ema[0][k], ema[1][k]) for k in ema[0])
    steps = [r["step"] for r in jsonl(workdir / "split" / "metrics.jsonl")]
    assert steps == sorted(set(steps)) and steps[-1] == 40
    ids = wandb_ids(workdir / "split")
    assert len(ids) == 2 and ids[0] == ids[1], "the resumed W&B run must keep its id"
    resumed = [r for r in wandb_records(workdir / "split", index=1) if r.HasField("history")]
    logged = [r.history.step.num for r in resumed]
    assert logged and min(logged) > 20  # the second part logs the steps after its checkpoint


def test_resume_from_another_run_folder(workdir, in_process):
    """trainer.resume=RUN continues that run in a new folder: the metrics so far come
    along, the W&B run id too, and a step logged after the checkpoint is dropped."""
    common = [*CADENCE, "trainer.steps=20"]
    assert in_process(train.main, *common, "hydra.run.dir=a", cwd=workdir).returncode == 0
    with open(workdir / "a" / "metrics.jsonl", "a") as f:  # as if killed after logging step 25
        f.write(json.dumps({"step": 25, "loss/d": 1.0}) + "\n")
    run = in_process(
        train.main,
        *CADENCE,
        "trainer.steps=30",
        f"trainer.resume={workdir / 'a'}",
        "hydra.run.dir=b",
        cwd=workdir,
    )
    assert run.returncode == 0, run.stderr
    steps = [r["step"] for r in jsonl(workdir / "b" / "metrics.jsonl")]
    assert steps == [5, 10, 15, 20, 25, 30]
    assert jsonl(workdir / "b" / "metrics.jsonl")[4]["loss/d"] != 1.0
    assert wandb_ids(workdir / "a") == wandb_ids(workdir / "b")


def test_keep_checkpoints_keeps_the_newest(workdir, in_process):
    run = in_process(
        train.main,
        *CADENCE,
        "trainer.steps=50",
        "trainer.keep_checkpoints=2",
        "logger=none",
        "hydra.run.dir=r",
        cwd=workdir,
    )
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in (workdir / "r" / "checkpoints").iterdir())
    assert names == ["last.pt", "step_0000040.pt", "step_0000050.pt"]


def test_resume_from_a_folder_without_checkpoints_is_one_line(workdir, capsys, monkeypatch):
    (workdir / "empty").mkdir()
    args = ["trainer.resume=empty", "hydra.run.dir=run"]
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 2
    assert "gan-train: error: trainer.resume=empty: a folder without checkpoints/last.pt" in output


def test_a_fresh_run_into_a_folder_holding_one_is_refused(workdir, capsys, monkeypatch):
    args = ["trainer.steps=4", *CADENCE, "logger=none", "hydra.run.dir=run"]
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 0, output
    before = (workdir / "run" / "metrics.jsonl").read_bytes()
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 2
    assert f"gan-train: error: {workdir / 'run'} already holds a run (checkpoints/last.pt)" in (
        " ".join(output.split())
    )
    assert (workdir / "run" / "metrics.jsonl").read_bytes() == before  # nothing written over
    code, output = run_in_process(
        train.main, [*args, "trainer.steps=6", "trainer.resume=auto"], workdir, capsys, monkeypatch
    )
    assert code == 0, output


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_the_printed_command_continues_the_same_run(workdir, in_process):
    """After Ctrl-C the tool prints the command that continues the run, with the run's
    own overrides: typed as printed, it trains the same GAN on to the end."""
    common = ["loss=vanilla", "data.distribution=grid25", *CADENCE, "trainer.steps=300"]
    common += ["trainer.sample_every=100", "logger=none"]  # (the command carries them on)
    proc = popen_train(*common, "trainer.ckpt_every=0", "hydra.run.dir=run", cwd=workdir)
    wait_for_step(workdir / "run", 10, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    line = next(x for x in err.splitlines() if "to continue: " in x)
    command = shlex.split(line.split("to continue: ", 1)[1])
    assert command[0] == "gan-train"
    assert {"loss=vanilla", "data.distribution=grid25", "trainer.resume=auto"} <= set(command)
    resumed = in_process(train.main, *command[1:], cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    config = yaml.safe_load((workdir / "run" / "config.yaml").read_text())
    assert config["data"]["distribution"] == "grid25"
    assert config["loss"]["objective"]["_target_"].endswith("Minimax")
    steps = [r["step"] for r in jsonl(workdir / "run" / "metrics.jsonl")]
    assert steps == list(range(5, 301, 5))


def test_a_resume_with_another_config_stops_and_changes_nothing(workdir, in_process):
    first = in_process(
        train.main,
        "loss=vanilla",
        *CADENCE,
        "logger=none",
        "trainer.steps=20",
        "hydra.run.dir=run",
        cwd=workdir,
    )
    assert first.returncode == 0, first.stderr
    files = [".hydra/config.yaml", ".hydra/overrides.yaml", "config.yaml", "metrics.jsonl"]
    before = {f: (workdir / "run" / f).read_bytes() for f in files}
    # the defaults are wgan_gp: not the run the checkpoint holds
    other = in_process(
        train.main,
        *CADENCE,
        "logger=none",
        "trainer.steps=40",
        "trainer.resume=auto",
        "hydra.run.dir=run",
        cwd=workdir,
    )
    lines = [x for x in (other.stdout + other.stderr).splitlines() if x.strip()]
    assert other.returncode == 2 and len(lines) == 1, lines
    assert "was trained with another config: loss.constraint._target_" in lines[0]
    assert "loss.objective._target_" in lines[0]
    assert {f: (workdir / "run" / f).read_bytes() for f in files} == before
    done = in_process(
        train.main,
        "loss=vanilla",
        *CADENCE,
        "logger=none",
        "trainer.steps=10",
        "trainer.resume=auto",
        "hydra.run.dir=run",
        cwd=workdir,
    )
    assert done.returncode == 2
    assert "is at step 20, trainer.steps is 10: raise trainer.steps" in done.stderr
    assert {f: (workdir / "run" / f).read_bytes() for f in files} == before
