"""Sweeps (gan-train -m): one W&B run per job in one group, failures that do not stop
the sweep, and a summary of every job at the end.

Each job writes `status.json` in its run folder (ok or failed, with the error, and its
final metrics). At the end of the sweep the `SweepSummary` callback reads them and
writes `summary.csv` and `summary.png` in the sweep folder, prints a table, and sends
the same table to W&B in a small summary run of the group.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from gan_cli.core.atomic import atomic_write
from gan_cli.tracking.tracker import tags

NAME_BYTES = 200  # a job folder's name at most (file systems refuse names over 255 bytes)


def job_folder(overrides: str) -> str:
    """A sweep job's folder name (hydra.sweep.subdir): its overrides, Hydra's
    override_dirname (the path keys left out by hydra.job.config.override_dirname), any
    other `/` written as `_` so the name stays one folder; a longer one is cut, and ends
    in a hash of the whole, so that two jobs never share a folder."""
    overrides = overrides.replace("/", "_")
    whole = overrides.encode()
    if len(whole) <= NAME_BYTES:
        return overrides
    digest = hashlib.sha1(whole).hexdigest()[:12]
    return whole[: NAME_BYTES - 16].decode(errors="ignore") + "..." + digest


OmegaConf.register_new_resolver("job_folder", job_folder, replace=True)


def is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def group_name(sweep_dir: str | Path) -> str:
    """The W&B group of a sweep: its folder, e.g. 2026-11-21_10-00-00."""
    sweep = Path(sweep_dir)
    return f"{sweep.parent.name}_{sweep.name}"


def job_labels(logger: dict[str, Any]) -> dict[str, Any]:
    """The logger settings of this job: in a sweep, the sweep's group (unless
    logger.group is set), the job's overrides as tags, and a name made of them."""
    if not is_multirun():
        return logger
    hc = HydraConfig.get()
    overrides = list(hc.overrides.task)
    return {
        **logger,
        "group": logger.get("group") or group_name(hc.sweep.dir),
        "tags": [*tags(logger.get("tags")), *overrides],
        "name": hc.job.override_dirname or f"job{hc.job.num}",
    }


def write_status(run_dir: Path, status: str, metrics: dict[str, Any], error: str = "") -> None:
    """status.json of one job, written whole or not at all."""
    record = {"status": status, "error": error, "metrics": _finite(metrics)}
    with atomic_write(run_dir / "status.json", "w") as f:
        json.dump(record, f, indent=2)


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if not (isinstance(v, float) and not math.isfinite(v))}
