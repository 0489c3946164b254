"""Shared test helpers: composing configs, running the real `gan-train` command, and
reading what a W&B offline run recorded."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import DictConfig

from gan_cli.config import compose_config

BIN = Path(sys.executable).parent
# A tiny schedule: every cadence fires, so every output is produced within a few steps.
FAST = [
    "trainer.steps=2",
    "trainer.log_every=1",
    "trainer.sample_every=1",
    "trainer.eval_every=1",
    "trainer.ckpt_every=1",
    "data.heldout_size=200",
]


def compose(*overrides: str) -> DictConfig:
    return compose_config(list(overrides))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user without W&B credentials and no WANDB_MODE."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(OMP_NUM_THREADS="1", COLUMNS="200", **extra)
    return env


def gan_train(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300):
    """Run the installed `gan-train` command as a user would."""
    return subprocess.run(
        [str(BIN / "gan-train"), *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def wandb_records(run_dir: Path) -> list:
    """Every record of the W&B offline run in `run_dir/wandb/`, parsed from its `.wandb` log.

    The file is W&B's transaction log (the LevelDB log format): a 7-byte header, then
    32 KiB blocks of chunks, each with a 7-byte header (crc32, length, type), and the
    chunks of one record (type FULL=1, or FIRST=2 MIDDLE=3 LAST=4) hold a protobuf Record.
    """
    from wandb.proto import wandb_internal_pb2

    (path,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    raw = path.read_bytes()
    assert raw[:4] == b":W&B"
    block, pos, chunks, records = 32768, 7, b"", []
    while pos + 7 <= len(raw):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[pos : pos + 7])
        pos += 7
        if kind == 0:  # zero padding up to the end of the block
            pos += left - 7
            continue
        chunks += raw[pos : pos + length]
        pos += length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            records.append(record)
            chunks = b""
    return records


def wandb_history(run_dir: Path) -> list[dict[str, object]]:
    """The rows W&B recorded with run.log, keys as logged (nested keys joined by '/')."""
    rows = []
    for record in wandb_records(run_dir):
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {
                    item.key or "/".join(item.nested_key): json.loads(item.value_json)
                    for item in record.history.item
                }
            )
    return rows


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty current directory for a command, as a user's project folder would be."""
    d = tmp_path / "work"
    d.mkdir()
    return d
