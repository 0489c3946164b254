"""gan-train: compose the config, build the objects, run the loop.

gan-train                                    # toy2d + mlp + wgan_gp, W&B offline
gan-train loss=vanilla data.distribution=grid25
gan-train -m loss=wgan_gp loss.gp_lambda=0.1,1,10,100
"""

from __future__ import annotations

import logging
import math
import random
import shlex
import sys
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gan_cli import distributed, loop, sweep
from gan_cli.checkpoint import find_checkpoint, latest_checkpoint, read_checkpoint
from gan_cli.config import (
    CONFIG_NAME,
    UserError,
    build,
    check_command_line,
    config_dir,
    one_line,
    resolve_device,
    validate,
)
from gan_cli.console import err_console, print_summary
from gan_cli.metrics.fid import InceptionUnavailable, inception, score
from gan_cli.preemption import Preempted
from gan_cli.tracking import Continued, NoTracker, Tracker

log = logging.getLogger(__name__)


def train(cfg: DictConfig, run_dir: Path) -> dict[str, float]:
    """One training run from a composed config; returns the final metrics.

    Every rank of a distributed run calls this with the same config and run folder.
    """
    validate(cfg)
    t = cfg.trainer
    world = distributed.world()
    seed = t.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    device = distributed.device_for(resolve_device(t.device), world)

    data = build(cfg.data, seed=seed, device=device)
    G = build(cfg.model.generator, out_shape=data.shape).to(device)
    constraint = build(cfg.loss.constraint)
    # The loss decides what the critic may contain, here and only here.
    norm = constraint.critic_norm(cfg.model.discriminator.norm)
    D = build(cfg.model.discriminator, in_shape=data.shape, norm=norm)
    D = constraint.prepare(D).to(device)
    if world.active:  # same weights everywhere (DDP checks), each rank its own noise and data
        if world.is_main:
            log.info("DistributedDataParallel over %d processes on %s", world.size, device)
        torch.manual_seed(seed + world.rank)
        data.shard(world.rank, world.size)
    gan = loop.GAN(
        generator=G,
        critic=D,
        objective=build(cfg.loss.objective),
        constraint=constraint,
        opt_g=build(cfg.optim.g)(G.parameters()),
        opt_d=build(cfg.optim.d)(D.parameters()),
        n_critic=cfg.loss.n_critic,
        z_dim=cfg.model.z_dim,
        critic_warmup=cfg.loss.get("critic_warmup", False),
        ema=ema_of(G, t.ema_decay) if t.ema_decay > 0 else None,
        forwards=forwards(G, D, constraint, world, t.compile),
    )
    if (warning := constraint.check_optimizer(gan.opt_d)) and world.is_main:
        log.warning(warning)  # Hydra's job logging shows it and keeps it in train.log
    schedule = loop.Schedule(t.steps, t.log_every, t.sample_every, t.eval_every, t.ckpt_every)
    config = OmegaConf.to_container(cfg, resolve=True)
    options = loop.Options(seed, config, t.nan_policy, str(t.precision), t.keep_checkpoints, world)
    resume = find_resume(t.resume, run_dir)
    continued = None
    if resume is not None:
        path, state = resume
        if world.is_main:
            log.info("resuming from %s (step %d)", path, state["step"])
        metrics = path.parent.parent / "metrics.jsonl"
        continued = Continued(state["step"], state.get("wandb_id"), metrics)
    if world.is_main:
        logger = sweep.job_labels(OmegaConf.to_container(cfg.logger, resolve=True))
        tracker = Tracker(run_dir, logger, config, continued)
    else:
        tracker = NoTracker()
    exit_code = 1
    try:
        try:
            metrics = loop.train(
                gan, data, schedule, tracker, run_dir, options, resume and resume[1]
            )
        except RuntimeError as e:
            if resume is not None and "state_dict" in str(e):
                raise UserError(
                    f"trainer.resume: {resume[0]} does not fit this config: {one_line(e)}"
                ) from e
            raise
        if cfg.metrics.fid and world.is_main:
            scores = fid_kid(cfg, gan.sampler, data, device)
            tracker.log(scores, t.steps)
            metrics.update(scores)
        exit_code = 0
    except Preempted:
        tracker.preempting()
        raise
    finally:
        tracker.finish(exit_code)
    if world.is_main:
        print_summary(metrics, run_dir)
    return metrics


def ema_of(G: torch.nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of G's weights (and batch-norm statistics)."""
    return AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def forwards(G, D, constraint, world: distributed.World, compile: bool) -> loop.Forwards:
    """How the loop calls the networks: compiled with `trainer.compile` (not a critic
    whose penalty needs a double backward, which compiled graphs do not support), and
    wrapped in DistributedDataParallel on several ranks."""
    if compile:
        G = torch.compile(G)
        if not constraint.double_backward:
            D = torch.compile(D)
    return loop.Forwards(
        g=distributed.wrap(G, world), d=distributed.wrap(D, world), g_fixed=G, d_fixed=D
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


def fid_kid(cfg: DictConfig, G: torch.nn.Module, data, device: torch.device) -> dict:
    """FID and KID of the final generator; without Inception weights, a warning and {}."""
    try:
        extractor = inception(cfg.metrics.inception_weights).to(device)
    except InceptionUnavailable as e:  # training itself is not affected
        log.warning("metrics.fid: no FID/KID, %s (metrics.inception_weights=PATH)", e)
        return {}
    m = cfg.metrics
    reference = data.reference(m.reference)
    scores = score(G, reference, m.n_samples, cfg.model.z_dim, extractor, cfg.trainer.seed)
    return {**scores, "fid/reference": m.reference}


@hydra.main(version_base="1.3", config_path=config_dir(), config_name=CONFIG_NAME)
def _hydra_main(cfg: DictConfig) -> dict[str, float] | float:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    main_rank = distributed.world().is_main
    try:
        if not sweep.is_multirun():
            try:
                return train(cfg, run_dir)
            except UserError as e:
                _exit_with(e)
            except loop.Diverged as e:  # the W&B run is already marked failed
                _exit_with(e, code=1)
        # In a sweep a failed job is recorded and the sweep goes on (the summary counts it).
        try:
            metrics = train(cfg, run_dir)
        except Preempted:
            raise
        except Exception as e:
            trace = not isinstance(e, UserError | loop.Diverged)
            log.error("job failed: %s: %s", type(e).__name__, e, exc_info=trace)
            if main_rank:
                sweep.write_status(run_dir, "failed", {}, f"{type(e).__name__}: {e}")
            return float("nan") if cfg.optimize else {"status": "failed"}  # Optuna: failed trial
    except Preempted as e:  # the checkpoint is written and W&B told; the whole sweep stops
        if main_rank:
            _report_preempted(e, run_dir)
        e.hand_over()
    diverged = [k for k in ("loss/d", "loss/g") if not math.isfinite(metrics.get(k, 0.0))]
    if diverged:
        error = f"diverged: non-finite {', '.join(diverged)}"
        if main_rank:
            sweep.write_status(run_dir, "failed", metrics, error)
        return float("nan") if cfg.optimize else {**metrics, "status": "failed"}
    if main_rank:
        sweep.write_status(run_dir, "ok", metrics)
    return metrics[cfg.optimize] if cfg.optimize else metrics


def _report_preempted(e: Preempted, run_dir: Path) -> None:
    # (a module-level function: submitit pickles _hydra_main by value, not the console)
    again = f"trainer.resume=auto hydra.run.dir={shlex.quote(str(run_dir))}"
    err_console.print(
        f"[bold yellow]gan-train:[/] {e}; checkpoint {run_dir}/checkpoints/last.pt; "
        f"to continue: gan-train ... {again}",
        highlight=False,
        soft_wrap=True,
    )
    if sweep.is_multirun():
        sweep.write_status(run_dir, "preempted", {}, str(e))


def _exit_with(error: Exception, code: int = 2) -> None:
    err_console.print(f"[bold red]gan-train: error:[/] {error}", highlight=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    """The `gan-train` command: check the command line, then hand it to Hydra.

    Under torchrun every rank runs this; they share rank 0's run folder.
    """
    try:
        sys.argv[1:] = check_command_line(sys.argv[1:])
        world = distributed.world()
        if world.active:
            sys.argv[1:] = distributed.hydra_arguments(sys.argv[1:], world)
    except UserError as e:
        _exit_with(e)
    try:
        _hydra_main()
    finally:
        distributed.finish()
    if sweep.FAILED:  # the exit status of a sweep is the number of failed jobs
        sys.exit(min(len(sweep.FAILED), 125))


if __name__ == "__main__":
    main()
