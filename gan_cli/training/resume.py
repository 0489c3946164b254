"""Resuming: the checkpoint trainer.resume names, and the command that continues a
stopped run with the run's own overrides. (Whether a checkpoint fits the run that
continues it is a check of the config: gan_cli.config.checks.check_resume.)"""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from gan_cli.training.checkpoint import find_checkpoint, latest_checkpoint, read_checkpoint

log = logging.getLogger(__name__)


def find_resume(value: str | None, run_dir: Path) -> tuple[Path, dict] | None:
    """trainer.resume: null (start afresh), auto (this run folder's newest checkpoint, if
    any) or PATH (a checkpoint, or a run folder's newest checkpoint)."""
    if value is None:
        return None
    if value == "auto":
        found = latest_checkpoint(run_dir)
        if found is None:
            log.info("trainer.resume=auto: no checkpoint in %s yet, starting at step 1", run_dir)
        return found
    path, run = find_checkpoint(value, key="trainer.resume")
    if run is not None and path.name == "last.pt":
        found = latest_checkpoint(run)
        if found is not None:
            return found
    return path, read_checkpoint(path, key="trainer.resume")


def resume_command(overrides: list[str], run_dir: Path) -> str:
    """The command that continues a run started with these overrides, in its folder."""
    kept = [o for o in overrides if not o.startswith(("trainer.resume=", "hydra.run.dir="))]
    return shlex.join(["gan-train", *kept, "trainer.resume=auto", f"hydra.run.dir={run_dir}"])
