"""3. Data pipeline, 4. memory: batches per second of gan-cli's in-memory image pipeline
against torchvision's DataLoader (ToTensor + Normalize, 2 workers) on the same files; peak
resident memory of gan-train runs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

from bench.common import config, data_root
from gan_cli.config.build import data_source
from gan_cli.config.spec import check


class _CIFAR10Files(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR-10 without the batches' md5 sums (a None sum checks that the
    file is there): these files hold random pixels, not the real files' bytes."""

    train_list = [[name, None] for name, _ in torchvision.datasets.CIFAR10.train_list]
    test_list = [[name, None] for name, _ in torchvision.datasets.CIFAR10.test_list]
    meta = {**torchvision.datasets.CIFAR10.meta, "md5": None}


DATASETS = {"mnist": torchvision.datasets.MNIST, "cifar10": _CIFAR10Files}  # torchvision's
BATCH = 64


def pipeline(quick: bool, work: Path) -> dict[str, Any]:
    root = data_root(work / "data")
    n = 100 if quick else 500  # batches timed: less than an epoch of MNIST (937)
    out = {}
    for name, dataset in DATASETS.items():
        cfg = config(
            f"data={name}",
            f"data.root={root}",
            "data.download=false",
            f"data.batch_size={BATCH}",
            "model=dcgan",
        )
        data = data_source(check(cfg), torch.device("cpu"))
        data.sample()
        start = time.perf_counter()
        for _ in range(n):
            data.sample()
        ours = n / (time.perf_counter() - start)

        channels = 1 if name == "mnist" else 3
        normalize = transforms.Normalize((0.5,) * channels, (0.5,) * channels)
        ds = dataset(
            str(root),
            train=True,
            download=False,
            transform=transforms.Compose([transforms.ToTensor(), normalize]),
        )
        loader = DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=2, drop_last=True)
        batches = iter(loader)
        next(batches)  # the workers are up: time the steady state
        start = time.perf_counter()
        for _ in range(n):
            next(batches)
        theirs = n / (time.perf_counter() - start)
        out[name] = {
            "gan_cli_batches_per_s": ours,
            "dataloader_batches_per_s": theirs,
            "speedup": ours / theirs,
            "batch_size": BATCH,
        }
    return out


def memory(quick: bool, work: Path) -> dict[str, Any]:
    """Peak resident set size of a whole `gan-train` process (the children's ru_maxrss,
    read in a small parent: a child forked from this big process would count its pages),
    beside a process that only imports torch, the floor of any PyTorch program."""
    root = data_root(work / "data")
    gan_train = [
        str(Path(sys.executable).with_name("gan-train")),
        "trainer.device=cpu",
        f"hydra.run.dir={work / 'mem'}",
    ]
    runs = {
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "toy2d mlp wgan_gp": [*gan_train, "trainer.steps=50" if quick else "trainer.steps=250"],
        "cifar10 dcgan vanilla": [
            *gan_train,
            "model=dcgan",
            "data=cifar10",
            "loss=vanilla",
            f"data.root={root}",
            "data.download=false",
            "trainer.steps=5" if quick else "trainer.steps=50",
        ],
    }
    measure = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL).returncode\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(code)\n"
    )
    out = {}
    for name, command in runs.items():
        run = subprocess.run(
            [sys.executable, "-c", measure, *command], cwd=work, capture_output=True, text=True
        )
        if run.returncode != 0:
            raise RuntimeError(f"{name} failed ({run.returncode})")
        out[name] = {"peak_rss_mib": int(run.stdout.split()[-1]) / 1024}
    return out
