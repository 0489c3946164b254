"""gan-train: compose the config, build the objects, run the loop.

gan-train                                    # toy2d + mlp + wgan_gp, W&B offline
gan-train loss=vanilla data.distribution=grid25
gan-train -m loss=wgan_gp loss.gp_lambda=0.1,1,10,100
"""

from __future__ import annotations

import logging
import math
import random
import sys
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from gan_cli import loop, sweep
from gan_cli.config import (
    CONFIG_NAME,
    UserError,
    build,
    check_command_line,
    config_dir,
    resolve_device,
    validate,
)
from gan_cli.console import err_console, print_summary
from gan_cli.metrics.fid import InceptionUnavailable, inception, score
from gan_cli.tracking import Tracker

log = logging.getLogger(__name__)


def train(cfg: DictConfig, run_dir: Path) -> dict[str, float]:
    """One training run from a composed config; returns the final metrics."""
    validate(cfg)
    seed = cfg.trainer.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    device = resolve_device(cfg.trainer.device)

    data = build(cfg.data, seed=seed, device=device)
    G = build(cfg.model.generator, out_shape=data.shape).to(device)
    constraint = build(cfg.loss.constraint)
    # The loss decides what the critic may contain, here and only here.
    norm = constraint.critic_norm(cfg.model.discriminator.norm)
    D = build(cfg.model.discriminator, in_shape=data.shape, norm=norm)
    D = constraint.prepare(D).to(device)
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
    )
    if warning := constraint.check_optimizer(gan.opt_d):
        log.warning(warning)  # Hydra's job logging shows it and keeps it in train.log
    t = cfg.trainer
    schedule = loop.Schedule(t.steps, t.log_every, t.sample_every, t.eval_every, t.ckpt_every)
    config = OmegaConf.to_container(cfg, resolve=True)
    logger = sweep.job_labels(OmegaConf.to_container(cfg.logger, resolve=True))
    tracker = Tracker(run_dir, logger, config)
    exit_code = 1
    try:
        metrics = loop.train(gan, data, schedule, tracker, run_dir, config, seed)
        if cfg.metrics.fid:
            scores = fid_kid(cfg, G, data, device)
            tracker.log(scores, t.steps)
            metrics.update(scores)
        exit_code = 0
    finally:
        tracker.finish(exit_code)
    print_summary(metrics, run_dir)
    return metrics


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
    if not sweep.is_multirun():
        try:
            return train(cfg, run_dir)
        except UserError as e:
            _exit_with(e)
    # In a sweep a failed job is recorded and the sweep goes on (the summary counts it).
    try:
        metrics = train(cfg, run_dir)
    except Exception as e:
        log.error("job failed: %s: %s", type(e).__name__, e, exc_info=not isinstance(e, UserError))
        sweep.write_status(run_dir, "failed", {}, f"{type(e).__name__}: {e}")
        return float("nan") if cfg.optimize else {"status": "failed"}  # Optuna: a failed trial
    diverged = [k for k in ("loss/d", "loss/g") if not math.isfinite(metrics.get(k, 0.0))]
    if diverged:
        error = f"diverged: non-finite {', '.join(diverged)}"
        sweep.write_status(run_dir, "failed", metrics, error)
        return float("nan") if cfg.optimize else {**metrics, "status": "failed"}
    sweep.write_status(run_dir, "ok", metrics)
    return metrics[cfg.optimize] if cfg.optimize else metrics


def _exit_with(error: UserError) -> None:
    err_console.print(f"[bold red]gan-train: error:[/] {error}", highlight=False, soft_wrap=True)
    sys.exit(2)


def main() -> None:
    """The `gan-train` command: check the command line, then hand it to Hydra."""
    try:
        sys.argv[1:] = check_command_line(sys.argv[1:])
    except UserError as e:
        _exit_with(e)
    _hydra_main()
    if sweep.FAILED:  # the exit status of a sweep is the number of failed jobs
        sys.exit(min(len(sweep.FAILED), 125))


if __name__ == "__main__":
    main()
