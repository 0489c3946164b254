"""`gan_cli.train` and `gan_cli.evaluate`: the commands' code paths, called from Python.

`train` checks the overrides as gan-train does (the same one line, raised as UserError),
then runs Hydra's app in this process: the run folder, its config.yaml, train.log,
metrics.jsonl and checkpoints are the ones the command makes. `evaluate` computes what
`gan-sample metrics=true` writes to metrics.json.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, NamedTuple

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from gan_cli.cli.command_line import check_command_line
from gan_cli.cli.run import fit
from gan_cli.cli.sample import scorer_for
from gan_cli.config.build import rebuild_generator
from gan_cli.config.checks import resolve_device
from gan_cli.config.compose import CONFIG_NAME, config_dir
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
        args.append(f"hydra.run.dir='{_quoted(Path(run_dir).absolute())}'")
    args = check_command_line(args)  # the command's checks, config and data files included
    outcome: dict[str, Any] = {}

    @hydra.main(version_base="1.3", config_path=config_dir(), config_name=CONFIG_NAME)
    def one_run(cfg: DictConfig) -> None:
        outcome["run_dir"] = Path(HydraConfig.get().runtime.output_dir)
        try:
            outcome["metrics"] = fit(cfg, outcome["run_dir"])
        except BaseException as e:  # raised to the caller once Hydra has closed the run
            outcome["error"] = e

    argv, handlers, level = sys.argv, logging.root.handlers[:], logging.root.level
    sys.argv = ["gan-train", *args]
    try:
        one_run()
    finally:  # the caller's command line and logging, without the run's train.log
        sys.argv = argv
        for handler in logging.root.handlers:
            if handler not in handlers:
                handler.close()
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)
    if "error" in outcome:
        raise outcome["error"]
    return Trained(outcome["run_dir"], outcome["metrics"])


def _quoted(path: Path) -> str:
    """A path inside a single-quoted Hydra override value."""
    return str(path).replace("\\", "\\\\").replace("'", "\\'")


def evaluate(
    path: str | Path,
    n: int = 10000,
    metrics: list[str] | None = None,
    seed: int = 0,
    inception_weights: str | None = None,
    device: str | None = None,
    ema: bool = True,
) -> dict[str, Any]:
    """The image metrics of n samples of a checkpoint or run folder against the run's
    real images, as `gan-sample checkpoint=PATH n=N seed=SEED metrics=true` writes them
    to metrics.json. `metrics`: some of classifier|stacked_modes|conditional|fid (None:
    every one that applies)."""
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
