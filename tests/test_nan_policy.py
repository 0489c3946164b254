"""A non-finite loss: trainer.nan_policy=stop ends the run with one line and the last good
checkpoint, skip drops the update and counts it."""

from __future__ import annotations

import torch

from gan_cli.cli import gan_train as train
from gan_cli.losses.minimax import Minimax
from gan_cli.training.checkpoint import load_checkpoint
from tests.helpers import (
    CADENCE,
    jsonl,
    run_in_process,
    wandb_records,
)


def _finite(state: dict) -> bool:
    nets = [state["generator"], state["discriminator"]]
    return all(bool(torch.isfinite(v).all()) for net in nets for v in net.values())


def _nan_at(calls: set[int], monkeypatch) -> None:
    """Make the critic's loss non-finite at these calls of Minimax.d_loss (1-based;
    with n_critic 1 the call number is the step)."""
    original = Minimax.d_loss
    count = {"n": 0}

    def d_loss(self, real_out, fake_out):
        count["n"] += 1
        loss = original(self, real_out, fake_out)
        return loss * float("nan") if count["n"] in calls else loss

    monkeypatch.setattr(Minimax, "d_loss", d_loss)


def test_nan_policy_stop(workdir, capsys, monkeypatch):
    _nan_at({23}, monkeypatch)
    args = ["loss=vanilla", *CADENCE, "trainer.steps=40", "hydra.run.dir=run"]
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 1
    line = next(x for x in output.splitlines() if "gan-train: error:" in x)
    assert "step 23: loss/d is nan" in line and "checkpoints/last.pt (step 20)" in line
    state = load_checkpoint(workdir / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 20 and _finite(state)
    exits = [r.exit for r in wandb_records(workdir / "run") if r.HasField("exit")]
    assert exits and exits[-1].exit_code != 0  # the W&B run is marked failed


def test_nan_policy_skip(workdir, capsys, monkeypatch):
    _nan_at({7, 8, 31}, monkeypatch)
    args = [
        "loss=vanilla",
        *CADENCE,
        "trainer.steps=40",
        "trainer.nan_policy=skip",
        "logger=none",
        "hydra.run.dir=run",
    ]
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 0, output
    skipped = {
        r["step"]: r["train/skipped_steps"] for r in jsonl(workdir / "run" / "metrics.jsonl")
    }
    assert skipped == {5: 0, 10: 2, 15: 2, 20: 2, 25: 2, 30: 2, 35: 3, 40: 3}
    assert _finite(load_checkpoint(workdir / "run" / "checkpoints" / "last.pt"))
