"""What the tests share besides their fixtures: composing configs, running the real
`gan-train` command or a command's main() in the test's process, small data folders, and
reading what a W&B offline run recorded (W&B has no public reader of its offline files:
this is the one place that parses them)."""

from __future__ import annotations

import json
import logging
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from gan_cli.config.compose import compose_config
from gan_cli.training.checkpoint import load_checkpoint

BIN = Path(sys.executable).parent  # the virtual environment's commands


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


def image_data(name: str, root: Path) -> list[str]:
    """Overrides that point data=name at the files under root, with no download (and a
    domain classifier of a few steps: these images are noise, there is nothing to learn)."""
    quick = "metrics.classifier_steps=20"
    if name == "image_folder":
        folder = [f"data.path={root / 'folder'}", f"data.cache_dir={root / 'packs'}"]
        return [f"data={name}", *folder, "data.image_size=32", quick]
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


# --- long runs: a cadence where every periodic task fires, and commands to watch -------------


# every cadence divides 20, so a run stopped at step 20 did what a longer one does there
CADENCE = [
    "trainer.log_every=5",
    "trainer.eval_every=10",
    "trainer.sample_every=20",
    "trainer.ckpt_every=10",
    "data.heldout_size=200",
    # a small network: these tests are about the mechanics, so steps should be cheap
    "model.hidden_dim=32",
    "data.batch_size=64",
]


def weights(run: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    return {
        f"{net}.{k}": v for net in ("generator", "discriminator") for k, v in state[net].items()
    }


def metrics(run: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock timings."""
    return [
        {k: v for k, v in r.items() if not k.startswith("time/")}
        for r in jsonl(run / "metrics.jsonl")
    ]


def wandb_ids(run: Path) -> list[str]:
    """The run id of each W&B offline run in the folder, oldest first (from its records:
    two runs started in one second share a folder name but for a suffix)."""
    n = len(list((run / "wandb").glob("offline-run-*/run-*.wandb")))
    return [
        next(r.run.run_id for r in wandb_records(run, i) if r.WhichOneof("record_type") == "run")
        for i in range(n)
    ]


def assert_same_run(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "weights differ"
    assert metrics(a) == metrics(b)


def wait_for_step(run: Path, step: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    path = run / "metrics.jsonl"
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if path.is_file() and any(r["step"] >= step for r in jsonl(path)):
            return
        time.sleep(0.1)
    raise AssertionError(f"step {step} never came")


def as_at_a_terminal() -> None:
    # A command started in the background (`make test &`, some CI runners) inherits an
    # ignored SIGINT, and gan-train rightly leaves an ignored SIGINT ignored; the tests
    # send Ctrl-C as a user at a terminal would, so the command gets the default handler.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_train(*args: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "gan-train"), *args],
        cwd=cwd,
        env=env or clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_at_a_terminal,
    )


def children(pid: int) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out += [int(proc.name), *children(int(proc.name))]
    return out


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# --- exported generators, run where gan-cli is not --------------------------------------------

# Loads each PROGRAM.pt2, feeds it the z (and y) of SAMPLES.npz and saves its output to
# OUT.npy, in a Python that cannot import gan_cli.
_RUN_EXPORTED = """
import sys
sys.modules["gan_cli"] = None  # as if gan-cli were not installed
try:
    import gan_cli
except ImportError:
    pass
else:
    raise SystemExit("gan_cli could be imported")
import numpy as np
import torch
for program, samples, out in zip(*[iter(sys.argv[1:])] * 3):
    generator = torch.export.load(program).module()
    with np.load(samples) as f:
        inputs = [torch.from_numpy(f["z"])] + ([torch.from_numpy(f["y"])] if "y" in f else [])
    np.save(out, generator(*inputs).detach().numpy())
"""


def run_exported(*pairs: tuple[Path, Path]) -> list[np.ndarray]:
    """The outputs of exported programs (.pt2) on the latents of samples.npz files, each
    pair (program, samples), computed in a subprocess without gan_cli."""
    args, outs = [], []
    for program, samples in pairs:
        outs.append(Path(program).with_suffix(".out.npy"))
        args += [str(program), str(samples), str(outs[-1])]
    env = {**clean_env(), "PYTHONPATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", _RUN_EXPORTED, *args], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return [np.load(out) for out in outs]
