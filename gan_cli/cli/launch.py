"""What gan-train does once its command line is checked (gan_cli.cli.command_line):
Hydra makes the run folder (a sweep's job folders), and each run trains from the spec
the check made for it (gan_cli.config.spec): builds its objects and runs the loop.

The one place gan-train hands its arguments to Hydra (`launch`): the command, the Python
API and the tests all start runs through it.
"""

from __future__ import annotations

import logging
import math
import random
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from gan_cli import metrics
from gan_cli.analysis.sweep_table import collect
from gan_cli.cli import sweep
from gan_cli.cli.command_line import Plan, exit_with, hydra_arguments
from gan_cli.config.build import assemble, data_source, generator
from gan_cli.config.checks import resolve_device
from gan_cli.config.compose import CONFIG_NAME, config_dir
from gan_cli.config.hydra_private import run_app
from gan_cli.config.spec import Resume, RunSpec, checked_resume, specify
from gan_cli.core.atomic import atomic_write
from gan_cli.core.console import console, err_console, print_table
from gan_cli.core.errors import UserError, one_line
from gan_cli.core.values import is_number
from gan_cli.tracking.tracker import Continued, NoTracker, Tracker
from gan_cli.training import distributed, loop
from gan_cli.training.boost import Builders, boost
from gan_cli.training.checkpoint import resume_candidates
from gan_cli.training.context import Run
from gan_cli.training.preemption import Preempted
from gan_cli.training.resume import resume_command
from gan_cli.training.step import Diverged

log = logging.getLogger(__name__)


def fit(spec: RunSpec, run_dir: Path) -> dict[str, float]:
    """What a gan-train run does with its spec: one training, or AdaGAN's rounds with
    +boost=adagan."""
    cfg = spec.config
    if cfg.trainer.resume is None:
        _check_fresh(run_dir)
    if "boost" in cfg:
        if distributed.world().active:
            raise UserError("+boost=adagan runs on one process: start it without torchrun")
        builders = Builders(fit_round, data_source, generator, sweep.job_labels)
        final = boost(cfg, run_dir, spec.device, builders)
        print_summary(final, run_dir)  # the mixture's, and the whole run's folder
        return final
    return fit_one(cfg, run_dir, resume=spec.resume_in(run_dir), device=spec.device)


def fit_config(cfg: DictConfig, run_dir: Path) -> dict[str, float]:
    """`fit` for a composed config no plan checked (a test's, a job an optimizing sweeper
    drew): its spec is made here, for this run folder."""
    return fit(specify(cfg, run_dir), run_dir)


def fit_round(cfg: DictConfig, run_dir: Path, data_weights: torch.Tensor) -> dict[str, float]:
    """One round of AdaGAN (+boost=adagan): a training in its own folder, continuing the
    round's checkpoint there if the whole run resumes."""
    return fit_one(cfg, run_dir, data_weights, checked_resume(cfg, run_dir))


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


def fit_one(
    cfg: DictConfig,
    run_dir: Path,
    data_weights: torch.Tensor | None = None,
    resume: Resume | None = None,
    device: torch.device | None = None,
) -> dict[str, float]:
    """One training run from a resolved config; returns the final metrics. `resume`:
    the checkpoint it continues (found and checked by its spec; an AdaGAN round finds
    its own in its folder). With `data_weights` (N,), training samples are drawn from
    the data's finite training set with these probabilities (an AdaGAN round).

    Every rank of a distributed run calls this with the same config and run folder. It
    sets this process's state for the run: the seeds of python, numpy and torch, and
    torch's thread count (trainer.threads).
    """
    world = distributed.world()
    random.seed(cfg.trainer.seed)
    np.random.seed(cfg.trainer.seed)
    if cfg.trainer.threads is not None:  # this process's share of a shared machine
        torch.set_num_threads(cfg.trainer.threads)
    device = distributed.device_for(device or resolve_device(cfg.trainer.device), world)
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
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(final.items()) if is_number(v))
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
    shown = typed(run_dir)
    console.print(f"run folder: {shown}", soft_wrap=True)
    console.print(f"samples:    gan-sample checkpoint={shlex.quote(shown)} n=64", soft_wrap=True)


def typed(path: Path) -> str:
    """A path as the user would type it: relative to the current folder where it lies
    below it (runs/toy), else in full."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _name(node: DictConfig) -> str:
    """A `_target_` node's class name, for the log."""
    return str(node._target_).rsplit(".", 1)[-1]


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


@dataclass
class Outcome:
    """What Hydra's app leaves behind in this process: the run's folder and final
    metrics, or the error that ended it (raised once Hydra has closed the run)."""

    run_dir: Path | None = None
    metrics: dict[str, Any] | None = None
    error: BaseException | None = None


def launch(plan: Plan, args: list[str] | None = None) -> Outcome:
    """Hydra's app over a checked command line (`args`: the plan's, or a rank's): each
    run or job trains from the spec the plan made for it."""
    outcome = Outcome()

    def task(cfg: DictConfig) -> dict[str, float] | float:
        outcome.run_dir = Path(HydraConfig.get().runtime.output_dir)
        if sweep.is_multirun():
            return job(plan, cfg)
        try:
            outcome.metrics = job(plan, cfg)
        except BaseException as e:  # Hydra would print it as a crash; the caller decides
            outcome.error = e
        return outcome.metrics

    run_app(plan.args if args is None else args, task, config_dir(), CONFIG_NAME)
    return outcome


def job(plan: Plan, cfg: DictConfig) -> dict[str, float] | float:
    """One run, or one job of a sweep, from the config Hydra composed for it. A sweep's
    job that fails is recorded (status.json) and the sweep goes on; a preempted one
    stops the sweep, checkpoint written."""
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    main_rank = distributed.world().is_main
    spec = plan.spec_for(cfg, list(hc.overrides.task))
    try:
        if not sweep.is_multirun():
            try:
                return fit(spec, run_dir) if spec else fit_config(cfg, run_dir)
            except Diverged as e:  # the W&B run is already marked failed
                if main_rank:  # what gan-doctor reads of a run that stopped
                    sweep.write_status(run_dir, "failed", {}, f"Diverged: {e}")
                raise
        try:
            final = fit(spec, run_dir) if spec else fit_config(cfg, run_dir)
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


def start(plan: Plan) -> None:
    """gan-train after its checks: one run (exit 2 for a mistake, 1 for a diverged run),
    or a sweep whose exit status is the number of its failed jobs. Under torchrun every
    rank runs this; they share rank 0's run folder."""
    args = plan.args
    try:
        world = distributed.world()
        if world.active:
            args = hydra_arguments(args, plan.run_dir, world)
    except UserError as e:
        exit_with(e)
    try:
        outcome = launch(plan, args)
    finally:
        distributed.finish()
    if isinstance(outcome.error, UserError):
        exit_with(outcome.error)
    if isinstance(outcome.error, Diverged):
        exit_with(outcome.error, code=1)
    if outcome.error is not None:
        raise outcome.error
    if plan.sweep_dir is not None:  # a job the doctor stopped (doctor.stop) is no failure
        failed = [r for r in collect(plan.sweep_dir) if r["status"] not in ("ok", "stopped")]
        if failed:
            sys.exit(min(len(failed), 125))
