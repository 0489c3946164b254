"""18. Data at real sizes: a folder of JPEG photographs packed once (data=image_folder)
against torchvision's ImageFolder through a DataLoader with 2 workers; batches per second
from the pack against the same images in a tensor; the peak resident memory of a run on
a pack several times larger than the memory it is allowed; and what a training step
costs as the side grows from 32 to 256 pixels."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from gan_cli.data import image_files, packing
from gan_cli.data.folder import ImageFolder
from gan_cli.data.memory import ImageData

BATCH = 64
PHOTO = (375, 500)  # height, width: the typical size of an ImageNet or LSUN photograph
SIDES = (32, 64, 128, 256)
PACK_GIB = 4.5  # the pack the memory part trains from
STEP_BATCH = 16  # the step-cost table's batch: a 256-pixel resnet step at 64 takes minutes
MEMORY_LIMIT_GIB = 1.5  # ... in a memory cgroup of this limit, where one can be made


def photographs(folder: Path, n: int) -> Path:
    """n distinct JPEG photographs (quality 90) of PHOTO's size: smooth colour fields
    with detail, in folder/all/ (torchvision's ImageFolder wants a class folder)."""
    out = folder / "all"
    if out.is_dir() and len(list(out.iterdir())) == n:
        return folder
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    h, w = PHOTO
    for i in range(n):
        coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        image = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC))
        noise = rng.integers(-12, 13, (h, w, 3))
        image = np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(image).save(out / f"{i:06d}.jpg", quality=90)
    return folder


def _torchvision(folder: Path, side: int, normalize: bool = False) -> datasets.ImageFolder:
    steps = [transforms.Resize(side), transforms.CenterCrop(side), transforms.PILToTensor()]
    if normalize:
        steps = [*steps[:2], transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)]
    return datasets.ImageFolder(str(folder), transform=transforms.Compose(steps))


def first_decode(folder: Path, side: int, cache: Path) -> dict[str, float]:
    """Images per second: packing the folder (a cold pack, every core) against one
    epoch of torchvision's ImageFolder + DataLoader (2 workers), the same resize and
    centre crop."""
    n = len(image_files.scan(folder))
    start = time.perf_counter()
    packing.open_or_pack(str(folder), image_files.Spec(side, 3, "center"), str(cache))
    ours = n / (time.perf_counter() - start)
    loader = DataLoader(_torchvision(folder, side), batch_size=BATCH, num_workers=2)
    start = time.perf_counter()
    for _ in loader:
        pass
    theirs = n / (time.perf_counter() - start)
    return {
        "gan_cli_images_per_s": ours,
        "dataloader_images_per_s": theirs,
        "speedup": ours / theirs,
    }


def batches(folder: Path, cache: Path, n: int) -> dict[str, float]:
    """Training batches of 64 per second at 64 pixels, in [-1, 1]: from the pack, from
    the same images held in one tensor, and from torchvision's DataLoader (ToTensor +
    Normalize, 2 workers, shuffled, steady state)."""

    def rate(draw) -> float:  # the best of three: the least disturbed
        draw()
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(n):
                draw()
            best = max(best, n / (time.perf_counter() - start))
        return best

    packed = ImageFolder(str(folder), image_size=64, cache_dir=str(cache), batch_size=BATCH)
    held = ImageData(packed.train.clone(), packed.test, heldout_size=2, batch_size=BATCH)
    out = {"packed": rate(packed.sample), "in_memory": rate(held.sample)}
    loader = DataLoader(  # started after: its workers would compete with the others
        _torchvision(folder, 64, normalize=True),
        batch_size=BATCH,
        shuffle=True,
        num_workers=2,
        drop_last=True,
        persistent_workers=True,
    )
    stream = iter(loader)

    def from_loader():
        nonlocal stream
        try:
            next(stream)
        except StopIteration:
            stream = iter(loader)
            next(stream)

    out["dataloader"] = rate(from_loader)
    out["packed_over_in_memory"] = out["packed"] / out["in_memory"]
    out["packed_over_dataloader"] = out["packed"] / out["dataloader"]
    return out


def big_folder(photos: Path, folder: Path, side: int, gib: float) -> int:
    """A folder of hard links to the photographs, as many as make a pack of `gib` at
    `side` pixels: a large set without the disk a large set of distinct files needs."""
    sources = sorted((photos / "all").iterdir())
    n = int(np.ceil(gib * 2**30 / (3 * side * side)))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        target = folder / f"{i:07d}.jpg"
        if not target.exists():
            os.link(sources[i % len(sources)], target)
    return n


def memory(photos: Path, work: Path, steps: int, gib: float) -> dict[str, Any]:
    """Peak resident memory of gan-train on a pack of `gib` (256 pixels), run in a
    memory cgroup limited to MEMORY_LIMIT_GIB where this machine lets one be made."""
    side = 256
    folder, cache = work / f"big{gib:g}", work / "big_packs"
    n = big_folder(photos, folder, side, gib)
    start = time.perf_counter()
    pack = packing.open_or_pack(str(folder), image_files.Spec(side, 3, "center"), str(cache))
    pack_s = time.perf_counter() - start
    gib = pack.images.nbytes / 2**30
    del pack
    command = [
        str(Path(sys.executable).with_name("gan-train")),
        "data=image_folder",
        f"data.path={folder}",
        f"data.image_size={side}",
        f"data.cache_dir={cache}",
        "data.heldout_size=128",
        f"data.batch_size={STEP_BATCH}",
        "model=dcgan",
        "model.g_channels=8",
        "model.d_channels=8",
        "loss=vanilla",
        f"trainer.steps={steps}",
        "trainer.device=cpu",
        "logger=none",
        f"hydra.run.dir={work / 'big_run'}",
    ]
    shutil.rmtree(work / "big_run", ignore_errors=True)  # an earlier benchmark's run
    limit = _memory_cgroup(MEMORY_LIMIT_GIB)
    measure = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL).returncode\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", measure, *command],
        capture_output=True,
        text=True,
        preexec_fn=None
        if limit is None
        else lambda: limit.joinpath("tasks").write_text(str(os.getpid())),
    )
    code, rss_kib = (int(v) for v in run.stdout.split()[-2:])
    if code not in (0, -9):  # -9: killed for memory, a result; anything else is a failure
        raise RuntimeError(f"gan-train on the large pack failed ({code})")
    out = {
        "images": n,
        "side": side,
        "pack_gib": gib,
        "pack_s": pack_s,
        "steps": steps,
        "batch_size": STEP_BATCH,
        "read_gib": steps * STEP_BATCH * 3 * side * side / 2**30,
        "run_s": time.perf_counter() - start,
        "exit_code": code,
        "peak_rss_gib": rss_kib / 2**20,
        "memory_limit_gib": None if limit is None else MEMORY_LIMIT_GIB,
        "machine_memory_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
    }
    if limit is not None:
        out["cgroup_max_usage_gib"] = int((limit / "memory.max_usage_in_bytes").read_text()) / 2**30
        limit.rmdir()
    return out


def _memory_cgroup(gib: float) -> Path | None:
    """A cgroup-v1 memory group limited to `gib` (page cache included, reclaimed under
    the limit), or None where none can be made (no permission, cgroup v2 only)."""
    group = Path(f"/sys/fs/cgroup/memory/gan-bench-{os.getpid()}")
    try:
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(str(int(gib * 2**30)))
    except OSError:
        return None
    return group


def step_costs(folder: Path, cache: Path, quick: bool) -> dict[str, Any]:
    """For dcgan and resnet at each side, fp32 and bf16: seconds per training step (one
    critic and one generator update, loss=vanilla, batch STEP_BATCH, the default widths), its
    FLOPs, and the peak resident memory of a process that builds the models and runs
    the steps (each in a fresh process)."""
    out = {}
    for model in ("dcgan", "resnet"):
        for side in SIDES:
            packing.open_or_pack(str(folder), image_files.Spec(side, 3, "center"), str(cache))
            for precision in ("32", "bf16"):
                code = (
                    "import json, sys; from bench.data import step_cost; "
                    "print(json.dumps(step_cost(*sys.argv[1:])))"
                )
                args = [model, str(side), precision, str(folder), str(cache), "1" if quick else "2"]
                run = subprocess.run(
                    [sys.executable, "-c", code, *args],
                    capture_output=True,
                    text=True,
                    cwd=Path(__file__).resolve().parent.parent,
                )
                if run.returncode != 0:
                    raise RuntimeError(f"{model} {side} {precision}: {run.stderr[-2000:]}")
                out[f"{model} {side} {precision}"] = json.loads(run.stdout.splitlines()[-1])
    return out


def step_cost(model: str, side: str, precision: str, folder: str, cache: str, reps: str):
    """One step_costs cell, in this (fresh) process."""
    from torch.utils.flop_counter import FlopCounterMode

    from bench.common import config
    from gan_cli.config.build import assemble
    from gan_cli.config.spec import check
    from gan_cli.training.distributed import World
    from gan_cli.training.step import Guard, autocast, train_step

    cfg = config(
        "data=image_folder",
        f"data.path={folder}",
        f"data.image_size={side}",
        f"data.cache_dir={cache}",
        f"data.batch_size={STEP_BATCH}",
        f"model={model}",
        "loss=vanilla",
        "trainer.device=cpu",
        f"trainer.precision={precision}",
    )
    gan, data = assemble(check(cfg), torch.device("cpu"))
    guard, counter = Guard("stop", World()), iter(range(1, 10**9))
    cast = autocast(torch.device("cpu"), precision)

    def step():
        train_step(gan, data, next(counter), guard, cast)

    with FlopCounterMode(display=False) as flops:
        step()
    start = time.perf_counter()
    for _ in range(int(reps)):
        step()
    return {
        "s_per_step": (time.perf_counter() - start) / int(reps),
        "gflop_per_step": flops.get_total_flops() / 1e9,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def data(quick: bool, work: Path) -> dict[str, Any]:
    photos = photographs(work / "photos", 300 if quick else 2000)
    cache = Path(tempfile.mkdtemp(prefix="packs-", dir=work))
    out: dict[str, Any] = {"photo": f"{PHOTO[1]}x{PHOTO[0]} JPEG", "images": 300 if quick else 2000}
    out["first_decode"] = {str(side): first_decode(photos, side, cache) for side in (64, 256)}
    out["batches_64px"] = batches(photos, cache, 100 if quick else 500)
    out["memory"] = memory(photos, work, 20 if quick else 300, 0.5 if quick else PACK_GIB)
    out["step_cost"] = step_costs(photos, cache, quick)
    return out
