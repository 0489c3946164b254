"""`gan_cli.train` and `gan_cli.evaluate`: the commands' code paths, called from Python.

`train` checks the overrides as gan-train does (the same one line, raised as UserError),
then runs Hydra's app in this process through gan-train's own launch: the run folder,
its config.yaml, train.log, metrics.jsonl and checkpoints are the ones the command makes.
`evaluate` computes what `gan-sample metrics=true` writes to metrics.json.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

from omegaconf import OmegaConf

from gan_cli.cli.command_line import check_command_line, quoted
from gan_cli.cli.launch import launch
from gan_cli.cli.sample import scorer_for
from gan_cli.config.build import rebuild_generator
from gan_cli.config.checks import resolve_device
from gan_cli.core.errors import UserError
from gan_cli.training import conditioning
from gan_cli.training.checkpoint import find_checkpoint, read_checkpoint


class Trained(NamedTuple):
    """What `gan_cli.train` returns: the run folder and the final metrics."""

    run_dir: Path
    metrics: dict[str, Any]


def train(*overrides: str, run_dir: str | Path | None = None) -> Trained:
    """One run, as `gan-train OVERRIDES` makes it (`hydra.run.dir=run_dir` where given;
    else Hydra's outputs/DATE/TIME under the current folder). A wrong override raises
    UserError with the command's one line, before anything is written."""
    args = [str(o) for o in overrides]
    if "-m" in args or "--multirun" in args:
        raise UserError("gan_cli.train runs one run; sweep with `gan-train -m ...`")
    if run_dir is not None:
        args.append(f"hydra.run.dir={quoted(Path(run_dir).absolute())}")
    plan = check_command_line(args)  # the command's checks, config and data files included
    handlers, level = logging.root.handlers[:], logging.root.level
    try:
        outcome = launch(plan)
    finally:  # the caller's logging, without the run's train.log
        for handler in logging.root.handlers:
            if handler not in handlers:
                handler.close()
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)
    if outcome.error is not None:
        raise outcome.error
    return Trained(outcome.run_dir, outcome.metrics)


def evaluate(
    path: str | Path,
    n: int = 10000,
    metrics: list[str] | None = None,
    seed: int = 0,
    inception_weights: str | None = None,
    device: str | None = None,
    ema: bool = True,
) -> dict[str, Any]:
    """The metrics of n samples of a checkpoint or run folder against the run's real
    data, as `gan-sample checkpoint=PATH n=N seed=SEED metrics=true` writes them to
    metrics.json. `metrics`: for images some of classifier|stacked_modes|conditional|fid,
    for a toy run some of exact_w1|modes, which it takes as the run does (n is not used);
    None: every one that applies (gan_cli.trained.scoring.Scorer)."""
    if n < 2:
        raise UserError(f"evaluate: n is an integer >= 2 (n={n})")
    where = resolve_device(device or "auto", key="device")
    ckpt, _ = find_checkpoint(str(path), key="path")
    state = read_checkpoint(ckpt, key="path")
    cfg = OmegaConf.create(state["config"])
    classes = conditioning.from_state(state) if "classes" in state else None
    only = None if metrics is None else [metrics] if isinstance(metrics, str) else list(metrics)
    scorer = scorer_for(cfg, classes, n, seed, inception_weights, where, only)
    return scorer(rebuild_generator(state, ema, where, seed))
