"""Shared test helpers: composing configs, running the real `gan-train` command, and
reading what a W&B offline run recorded."""

from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import DictConfig

from gan_cli.config.compose import compose_config
from gan_cli.testing import write_cifar10, write_mnist

BIN = Path(sys.executable).parent
os.environ.setdefault("COLUMNS", "200")  # the width clean_env gives a command, before rich reads it
if os.environ.get("PYTEST_XDIST_WORKER"):  # make test runs one worker per core:
    torch.set_num_threads(1)  # more threads per worker would only fight over the cores
# make test hands each worker a whole module at a time (--dist loadscope, so a module's
# trained fixtures are made once); the longest modules go first, so that no worker is
# left with one of them at the end while the other idles.
LONGEST_FIRST = ("test_long_runs", "test_theory", "test_conditional", "test_images", "test_sweep")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1]
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a module stays


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


def wandb_records(run_dir: Path, index: int | None = None) -> list:
    """Every record of the W&B offline run in `run_dir/wandb/`, parsed from its `.wandb` log
    (with `index`, of the index-th of several, oldest first: a resumed run has one more).

    The file is W&B's transaction log (the LevelDB log format): a 7-byte header, then
    32 KiB blocks of chunks, each with a 7-byte header (crc32, length, type), and the
    chunks of one record (type FULL=1, or FIRST=2 MIDDLE=3 LAST=4) hold a protobuf Record.

    W&B's service may still be writing the file's tail when `run.finish` has returned (seen
    on a loaded CI machine: the last history rows were missing), so this reads until the
    run's exit record is there, for up to 30 s, and then returns what the file holds.
    """
    paths = sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    if index is None:
        (path,) = paths
    else:
        path = paths[index]
    deadline = time.monotonic() + 30
    while True:
        records = _parse_wandb_log(path.read_bytes())
        if (records and records[-1].HasField("exit")) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def _parse_wandb_log(raw: bytes) -> list:
    from wandb.proto import wandb_internal_pb2

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
        if pos + length > len(raw):  # a chunk still being written
            break
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


# --- small data sets in the official formats -------------------------------------------------


def write_image_folder(folder: Path, n: int = 24) -> None:
    """PNG and JPEG files of mixed sizes in a nested tree."""
    from PIL import Image

    rng = np.random.default_rng(2)
    for i in range(n):
        sub = folder / ("a" if i % 2 else "b/c")
        sub.mkdir(parents=True, exist_ok=True)
        h, w = (40, 60) if i % 3 else (70, 50)
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(sub / f"img{i}.{'png' if i % 4 else 'jpg'}")


@pytest.fixture(scope="session")
def image_root(tmp_path_factory) -> Path:
    """One folder with MNIST, Fashion-MNIST, CIFAR-10 and a PNG/JPEG tree, as a user would
    have them."""
    root = tmp_path_factory.mktemp("data")
    write_mnist(root)
    write_mnist(root, folder="FashionMNIST")
    write_cifar10(root)
    write_image_folder(root / "folder")
    return root


def image_data(name: str, root: Path) -> list[str]:
    """Overrides that point data=name at the files under root, with no download (and a
    domain classifier of a few steps: these images are noise, there is nothing to learn)."""
    quick = "metrics.classifier_steps=20"
    if name == "image_folder":
        return [f"data={name}", f"data.path={root / 'folder'}", "data.image_size=32", quick]
    return [f"data={name}", f"data.root={root}", "data.download=false", quick]


def run_in_process(
    main, args: list[str], cwd: Path, capsys, monkeypatch, keep: bool = False
) -> tuple[int, str]:
    """Run a command's main() in this process (as its console script would, far faster
    than a subprocess): its exit status and everything it printed (left in capsys for
    the caller with keep)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["cmd", *args])
    code = 0
    handlers, level = logging.root.handlers[:], logging.root.level
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:  # the run's log handlers (Hydra's, on this test's streams) go with it
        for handler in logging.root.handlers:
            if handler not in handlers:
                handler.close()
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)
    if keep:
        return code, ""
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture(autouse=True)
def _no_wandb_service_left():
    """A W&B service that an in-process run started stops with its test, and its address
    (WANDB_SERVICE, which monkeypatch may have put back from an earlier test) goes too:
    the next test's run starts its own, as a command's process would."""
    yield
    if "wandb" in sys.modules:
        sys.modules["wandb"].teardown()
    os.environ.pop("WANDB_SERVICE", None)


@pytest.fixture
def here(capsys, monkeypatch):
    """Run a command's main() in this process with the arguments, folder and environment
    a subprocess would get -> a CompletedProcess, like `gan_train`. The code is the
    console script's; what is saved is the start: a run in a warm process takes a second
    or two where a fresh `gan-train` takes 7 (Python's imports, torch's compiler module).
    Tests of what only a process shows (signals, kill -9, the installed entry points,
    torchrun, submitit) and the one end-to-end run of each capability use `gan_train`.

        result = here(train.main, "trainer.steps=2", cwd=workdir)
    """

    def run(main, *args: str, cwd: Path, env: dict[str, str] | None = None):
        for key in [k for k in os.environ if k.startswith("WANDB_")]:
            monkeypatch.delenv(key)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        code, _ = run_in_process(main, list(args), cwd, capsys, monkeypatch, keep=True)
        if "wandb" in sys.modules:  # the W&B service writes the run's file out as it stops
            sys.modules["wandb"].teardown()  # (as it does when a command's process ends)
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory) -> str:
    """A weights file for the real InceptionV3 architecture, random weights (the real ones
    need the network): it runs the whole FID path as a user with a local copy would."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    from gan_cli.metrics.fid import inception

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fe, "load_state_dict_from_url", lambda *a, **k: None)
        mp.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        torch.manual_seed(0)
        state = inception(None).state_dict()
    path = tmp_path_factory.mktemp("weights") / "inception.pth"
    torch.save(state, path)
    return str(path)
