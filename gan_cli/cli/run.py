"""What a gan-train run does once its command line is checked (gan_cli.cli.train): Hydra
composes the config, and each run (or each job of a sweep) checks it, builds the
objects and runs the loop."""

from __future__ import annotations

import logging
import math
import random
import shlex
import sys
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from gan_cli import metrics
from gan_cli.cli import sweep
from gan_cli.cli.command_line import exit_with, hydra_arguments
from gan_cli.config.build import assemble, data_source, generator
from gan_cli.config.checks import check, resolve_device
from gan_cli.config.compose import CONFIG_NAME, config_dir
from gan_cli.core.atomic import atomic_write
from gan_cli.core.console import console, err_console, print_table
from gan_cli.core.errors import UserError, one_line
from gan_cli.training import distributed, loop
from gan_cli.training.boost import Builders, boost
from gan_cli.training.checkpoint import resume_candidates
from gan_cli.training.preemption import Preempted
from gan_cli.training.resume import check_resume, find_resume, resume_command
from gan_cli.training.run import Run
from gan_cli.training.step import Diverged
from gan_cli.training.tracking import Continued, NoTracker, Tracker

log = logging.getLogger(__name__)


def fit(cfg: DictConfig, run_dir: Path) -> dict[str, float]:
    """What a gan-train run does with the config Hydra composed: resolve and check it
    once, then one training, or AdaGAN's rounds with +boost=adagan."""
    cfg = check(cfg)
    if cfg.trainer.resume is None:
        _check_fresh(run_dir)
    if "boost" in cfg:
        if distributed.world().active:
            raise UserError("+boost=adagan runs on one process: start it without torchrun")
        builders = Builders(train_checked, data_source, generator, sweep.job_labels)
        final = boost(cfg, run_dir, resolve_device(cfg.trainer.device), builders)
        print_summary(final, run_dir)  # the mixture's, and the whole run's folder
        return final
    return train_checked(cfg, run_dir)


def _check_fresh(run_dir: Path) -> None:
    """A run starting afresh must not write over another run's checkpoints and append to
    its metrics.jsonl: a folder that holds one is refused, with the two ways on."""
    held = [p for p in resume_candidates(run_dir) if p.is_file()]
    metrics_file = run_dir / "metrics.jsonl"
    if metrics_file.is_file() and metrics_file.stat().st_size:
        held.append(metrics_file)
    if held:
        raise UserError(
            f"{run_dir} already holds a run ({held[0].relative_to(run_dir)}): continue it "
            "with trainer.resume=auto, or start afresh in another hydra.run.dir"
        )


def train(cfg: DictConfig, run_dir: Path, data_weights=None) -> dict[str, float]:
    """One training run from a composed config (resolved and checked here); returns the
    final metrics. See `train_checked`."""
    return train_checked(check(cfg), run_dir, data_weights)


def train_checked(cfg: DictConfig, run_dir: Path, data_weights=None) -> dict[str, float]:
    """One training run from a resolved, checked config; returns the final metrics. With
    `data_weights` (N,), training samples are drawn from the data's finite training set
    with these probabilities (an AdaGAN round).

    Every rank of a distributed run calls this with the same config and run folder.
    """
    world = distributed.world()
    random.seed(cfg.trainer.seed)
    np.random.seed(cfg.trainer.seed)
    device = distributed.device_for(resolve_device(cfg.trainer.device), world)
    resume = find_resume(cfg.trainer.resume, run_dir)
    if resume is not None:  # before anything is written: a checkpoint of another run stops
        check_resume(resume[1], cfg, resume[0])
    gan, data = assemble(cfg, device, world)
    data.reweight(data_weights)
    if world.is_main:
        if world.active:
            log.info("DistributedDataParallel over %d processes on %s", world.size, device)
        if warning := gan.constraint.check_optimizer(gan.opt_d):
            log.warning(warning)  # Hydra's job logging shows it and keeps it in train.log
        with atomic_write(run_dir / "config.yaml", "w") as f:  # the config as trained
            f.write(OmegaConf.to_yaml(cfg))
    tracker = _tracker(cfg, run_dir, world, resume)
    run = Run(
        cfg,
        run_dir,
        tracker,
        metrics.for_run(cfg.metrics, data, gan.objective, gan.classes is not None),
        world,
    )
    if world.is_main:  # the job's log (train.log in the run folder) says what it trains
        log.info(
            "training %s on %s (%s, %s + %s) for %d steps on %s",
            str(cfg.model.generator._target_).split(".")[-2],  # the model's module: mlp
            _name(cfg.data),
            cfg.data.get("distribution", "images"),
            _name(cfg.loss.objective),
            _name(cfg.loss.constraint),
            cfg.trainer.steps,
            device,
        )
    exit_code = 1
    try:
        try:
            final = loop.train(gan, data, run, resume and resume[1])
        except RuntimeError as e:
            if resume is not None and "state_dict" in str(e):
                raise UserError(
                    f"trainer.resume: {resume[0]} does not fit this config: {one_line(e)}"
                ) from e
            raise
        exit_code = 0
    except Preempted:
        tracker.preempting()
        raise
    finally:
        tracker.finish(exit_code)
    if world.is_main:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(final.items()) if _is_number(v))
        log.info("finished step %d: %s", cfg.trainer.steps, shown)
        print_summary(final, run_dir)
    return final


def print_summary(metrics: dict[str, float | str], run_dir: Path) -> None:
    """A run's last lines: its final metrics, its folder, and the command that samples it."""
    rows = [
        [key, f"{value:.6g}" if isinstance(value, float) else str(value)]
        for key, value in sorted(metrics.items())
    ]
    print_table("final metrics", ["metric", "value"], rows)
    console.print(f"run folder: {run_dir}", soft_wrap=True)
    console.print(
        f"samples:    gan-sample checkpoint={shlex.quote(str(run_dir))} n=64", soft_wrap=True
    )


def _name(node: DictConfig) -> str:
    """A `_target_` node's class name, for the log."""
    return str(node._target_).rsplit(".", 1)[-1]


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _tracker(cfg: DictConfig, run_dir: Path, world, resume) -> Tracker | NoTracker:
    """Rank 0's tracker (a sweep job's W&B labels; a resumed run's metrics and W&B id)."""
    if not world.is_main:
        return NoTracker()
    continued = None
    if resume is not None:
        path, state = resume
        log.info("resuming from %s (step %d)", path, state["step"])
        metrics_file = path.parent.parent / "metrics.jsonl"
        continued = Continued(
            state["step"], state.get("wandb_id"), metrics_file, state.get("mlflow_id")
        )
    config = OmegaConf.to_container(cfg)
    return Tracker(run_dir, sweep.job_labels(config["logger"]), config, continued)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name=CONFIG_NAME)
def _hydra_main(cfg: DictConfig) -> dict[str, float] | float:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    main_rank = distributed.world().is_main
    try:
        if not sweep.is_multirun():
            try:
                return fit(cfg, run_dir)
            except UserError as e:
                exit_with(e)
            except Diverged as e:  # the W&B run is already marked failed
                if main_rank:  # what gan-doctor reads of a run that stopped
                    sweep.write_status(run_dir, "failed", {}, f"Diverged: {e}")
                exit_with(e, code=1)
        # In a sweep a failed job is recorded and the sweep goes on (the summary counts it).
        try:
            final = fit(cfg, run_dir)
        except Preempted:
            raise
        except Exception as e:
            trace = not isinstance(e, UserError | Diverged)
            log.error("job failed: %s: %s", type(e).__name__, e, exc_info=trace)
            if main_rank:
                sweep.write_status(run_dir, "failed", {}, f"{type(e).__name__}: {e}")
            return float("nan") if cfg.optimize else {"status": "failed"}  # Optuna: failed trial
    except Preempted as e:  # the checkpoint is written and W&B told; the whole sweep stops
        if main_rank:
            _report_preempted(e, run_dir)
        e.hand_over()
    diverged = [k for k in ("loss/d", "loss/g") if not math.isfinite(final.get(k, 0.0))]
    if diverged:
        error = f"diverged: non-finite {', '.join(diverged)}"
        if main_rank:
            sweep.write_status(run_dir, "failed", final, error)
        return float("nan") if cfg.optimize else {**final, "status": "failed"}
    if main_rank:
        stopped = final.get("doctor/stopped")
        sweep.write_status(run_dir, "stopped" if stopped else "ok", final, stopped or "")
    return final[cfg.optimize] if cfg.optimize else final


def _report_preempted(e: Preempted, run_dir: Path) -> None:
    # (a module-level function: submitit pickles _hydra_main by value, not the console)
    overrides = list(HydraConfig.get().overrides.task)
    err_console.print(
        f"[bold yellow]gan-train:[/] {e}; checkpoint {run_dir}/checkpoints/last.pt; "
        f"to continue: {resume_command(overrides, run_dir)}",
        highlight=False,
        soft_wrap=True,
    )
    if sweep.is_multirun():
        sweep.write_status(run_dir, "preempted", {}, str(e))


def start() -> None:
    """Hand a checked command line (sys.argv) to Hydra: one run, or a sweep whose exit
    status is the number of its failed jobs. Under torchrun every rank runs this; they
    share rank 0's run folder."""
    sweep.FAILED.clear()  # (a second call in one process counts its own sweep only)
    try:
        world = distributed.world()
        if world.active:
            sys.argv[1:] = hydra_arguments(sys.argv[1:], world)
    except UserError as e:
        exit_with(e)
    try:
        _hydra_main()
    finally:
        distributed.finish()
    if sweep.FAILED:  # the exit status of a sweep is the number of failed jobs
        sys.exit(min(len(sweep.FAILED), 125))
