"""Start-up: how long gan-train and gan-sample take to answer what needs no training
(help, the composed config, a typo) and to make a two-step toy run, each the median of
3 fresh processes, beside importing torch (which a run, but not --help or a typo, pays).
`before_s` is the same command's median as recorded before the command line was read
without torch (2026-12-03, this project's 2-core machine)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
TWO_STEPS = ["gan-train", "logger=none", "trainer.steps=2"]  # and a fresh hydra.run.dir
COMMANDS = {
    "python -c 'import torch'": ["python", "-c", "import torch"],
    "gan-train --help": ["gan-train", "--help"],
    "gan-train --cfg job": ["gan-train", "--cfg", "job"],
    "gan-train with a typo (one-line error)": ["gan-train", "trainer.stpes=1"],
    "gan-sample --help": ["gan-sample", "--help"],
    "gan-train logger=none trainer.steps=2": TWO_STEPS,
}
BEFORE = {
    "gan-train --help": 3.09,
    "gan-train --cfg job": 5.03,
    "gan-train with a typo (one-line error)": 2.76,
    "gan-sample --help": 2.10,
}


def startup(quick: bool, work: Path) -> dict[str, Any]:
    calls = 1 if quick else 3
    work.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (command, *args) in COMMANDS.items():
        seconds = []
        for call in range(calls):
            run_dir = (
                [f"hydra.run.dir={work / f'two_steps_{call}'}"] if args == TWO_STEPS[1:] else []
            )
            start = time.perf_counter()
            subprocess.run([str(BIN / command), *args, *run_dir], cwd=work, capture_output=True)
            seconds.append(time.perf_counter() - start)
        out[name] = {"median_s": statistics.median(seconds), "seconds": seconds}
        if name in BEFORE:
            out[name]["before_s"] = BEFORE[name]
    return out
