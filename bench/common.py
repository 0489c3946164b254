"""What the benchmark parts share: the machine's description, configs, timed runs of
gan-train's loop, and CIFAR/MNIST-format files written from random pixels."""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from gan_cli.cli import launch
from gan_cli.config.compose import compose_config
from gan_cli.core import console
from gan_cli.testing import write_cifar10, write_mnist
from gan_cli.training import loop

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name()
    return out


def data_root(root: Path) -> Path:
    """MNIST and CIFAR-10 in their official formats, at their real sizes (60,000 and
    50,000 training images), random pixels: the speed of a pipeline does not depend on
    what the pixels show. Written once."""
    if not (root / "cifar-10-batches-py").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        write_cifar10(root, n_per_batch=10_000, n_test=10_000)
        write_mnist(root, n_train=60_000, n_test=10_000)
    return root


def config(*overrides: str) -> DictConfig:
    return compose_config(list(overrides))


@contextmanager
def quiet():
    """gan-train's progress bar and summary table off: the benchmark prints its own."""
    before = console.console.quiet
    console.console.quiet = True
    try:
        yield
    finally:
        console.console.quiet = before


def timed_train(cfg: DictConfig, run_dir: Path) -> tuple[float, dict[str, float]]:
    """Run gan-train on `cfg`; return the seconds its loop took (step 1 to the end, with
    the logging, sampling, evaluation and checkpoints it does; not the start-up) and the
    final metrics. A run folder left by an earlier benchmark in the same --work folder
    is removed first, so its metrics.jsonl never mixes into this run's."""
    if run_dir.is_dir() and any(run_dir.iterdir()):
        shutil.rmtree(run_dir)
    seconds = {}
    original = loop.train

    def timing(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds["loop"] = time.perf_counter() - start

    loop.train = timing
    try:
        with quiet():
            metrics = launch.fit_config(cfg, run_dir)
    finally:
        loop.train = original
    return seconds["loop"], metrics


DONE = "bench_done"  # written in a run folder once gan-train has finished there


def train_once(job: tuple[str, list[str], Path]) -> Path:
    """gan-train as a user types it, with its overrides, `logger=none` and one thread,
    into work/name; a run an earlier bench finished there (DONE) is kept."""
    name, overrides, work = job
    run = work / name
    if (run / DONE).is_file():  # (a run stopped by a signal leaves a checkpoint, not this)
        return run
    shutil.rmtree(run, ignore_errors=True)
    command = [sys.executable, "-m", "gan_cli.train", *overrides, "logger=none"]
    command += ["trainer.threads=1", f"hydra.run.dir={run}"]
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode in (0, 1):  # 1: it stopped on a non-finite loss, as some zoo runs do
        (run / DONE).write_text(str(done.returncode))
    return run
