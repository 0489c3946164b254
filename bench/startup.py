"""Start-up: how long gan-train and gan-sample take to answer what needs no training
(help, the composed config, a typo), each the median of 3 fresh processes, beside the
floor every one of them pays: importing torch (the config's classes are torch modules).
The issue that asked for it (27) measured `gan-train --help` at 5.9 s on a shared 2-core
machine."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c 'import torch' (the floor)": ["python", "-c", "import torch"],
    "gan-train --help": ["gan-train", "--help"],
    "gan-train --cfg job": ["gan-train", "--cfg", "job"],
    "gan-train with a typo (one-line error)": ["gan-train", "trainer.stpes=1"],
    "gan-sample --help": ["gan-sample", "--help"],
}
BEFORE = {"gan-train --help": 5.9}  # issue 27, a shared 2-core machine


def startup(quick: bool, work: Path) -> dict[str, Any]:
    calls = 1 if quick else 3
    work.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (command, *args) in COMMANDS.items():
        seconds = []
        for _ in range(calls):
            start = time.perf_counter()
            subprocess.run([str(BIN / command), *args], cwd=work, capture_output=True)
            seconds.append(time.perf_counter() - start)
        out[name] = {"median_s": statistics.median(seconds), "seconds": seconds}
        if name in BEFORE:
            out[name]["before_s"] = BEFORE[name]
    return out
