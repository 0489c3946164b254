"""Resuming safely: a checkpoint continues only the run it came from, and the command
that continues a stopped run is printed with the run's own overrides."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gan_cli.core.errors import UserError
from gan_cli.training.checkpoint import find_checkpoint, latest_checkpoint, read_checkpoint

log = logging.getLogger(__name__)

# What may change when a run continues: how long it runs and what it reports, not what
# it trains (data, model, loss, optimizers, seed, precision, EMA).
MAY_CHANGE = (
    "trainer.steps",
    "trainer.log_every",
    "trainer.sample_every",
    "trainer.eval_every",
    "trainer.ckpt_every",
    "trainer.keep_checkpoints",
    "trainer.threads",
    "trainer.resume",
    "trainer.device",
    "trainer.nan_policy",
    "trainer.compile",
    "logger.",
    "metrics.",
    "optimize",
)


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


def check_resume(state: dict[str, Any], cfg: DictConfig, path: Path) -> None:
    """One line if the checkpoint at `path` was trained with another config than `cfg`
    (in a key outside MAY_CHANGE), or is already at or past trainer.steps."""
    saved, now = _flat(state["config"]), _flat(OmegaConf.to_container(cfg))
    boosted = "mixture" in state  # an AdaGAN run (+boost=adagan): counted in rounds
    if boosted and "boost" not in cfg:
        raise UserError(f"trainer.resume: {path} is an AdaGAN run: resume it with +boost=adagan")
    may_change = (*MAY_CHANGE, "boost.rounds") if boosted else MAY_CHANGE
    differ = [
        k
        for k in sorted(saved.keys() & now.keys())
        if saved[k] != now[k] and not k.startswith(may_change)
    ]
    if differ:
        shown = ", ".join(f"{k} ({saved[k]!r} there, {now[k]!r} here)" for k in differ[:4])
        more = f" and {len(differ) - 4} more" if len(differ) > 4 else ""
        raise UserError(
            f"trainer.resume: {path} was trained with another config: {shown}{more}; "
            "resume with the run's own overrides (its .hydra/overrides.yaml)"
        )
    if boosted and state["round"] >= cfg.boost.rounds:
        raise UserError(
            f"trainer.resume: {path} has done round {state['round']}, boost.rounds is "
            f"{cfg.boost.rounds}: raise boost.rounds to add rounds"
        )
    if not boosted and state["step"] >= cfg.trainer.steps:
        raise UserError(
            f"trainer.resume: {path} is at step {state['step']}, trainer.steps is "
            f"{cfg.trainer.steps}: raise trainer.steps to train longer"
        )


def resume_command(overrides: list[str], run_dir: Path) -> str:
    """The command that continues a run started with these overrides, in its folder."""
    kept = [o for o in overrides if not o.startswith(("trainer.resume=", "hydra.run.dir="))]
    return shlex.join(["gan-train", *kept, "trainer.resume=auto", f"hydra.run.dir={run_dir}"])


def _flat(values: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(values, dict):
        return {prefix[:-1]: values}
    out: dict[str, Any] = {}
    for k, v in values.items():
        out |= _flat(v, f"{prefix}{k}.")
    return out
