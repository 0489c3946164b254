"""From a composed config to a run specification, once: derive what the config implies,
check it, and meet the world (data files, optimizers, the checkpoint to resume).

    composed config --derive--> resolved config --check_rules, check_world--> RunSpec

gan-train does this once for each run (each job of a sweep) before Hydra makes a run
folder, and the run trains from the spec it made; building the objects
(gan_cli.config.build) reads the spec's config and derives nothing again.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from gan_cli.config import checks
from gan_cli.config.build import sample_shape
from gan_cli.config.schema import typed
from gan_cli.core.errors import UserError
from gan_cli.models.space import draw_architecture
from gan_cli.training.resume import find_resume

Resume = tuple[Path, dict[str, Any]]  # a checkpoint's path and its state


@dataclass(frozen=True)
class RunSpec:
    """A checked run: its resolved config and what it derives, made once.

    `config` is the one a run trains with and records (config.yaml, checkpoints, W&B):
    typed by the schema, plain values, with the drawn architecture and the critic's
    normalization written in. `composed` is the config before that, to recognise the
    job this spec belongs to. `resume` is the checkpoint to continue, read once where
    `looked` (trainer.resume=PATH; or auto, in the run folder `run_dir`).
    """

    config: DictConfig
    composed: dict[str, Any]
    device: torch.device
    resume: Resume | None = None
    looked: bool = False
    run_dir: Path | None = None

    def resume_in(self, run_dir: Path) -> Resume | None:
        """The checkpoint this run continues in `run_dir`: the one read when the spec was
        made if it looked for that run folder, else found (and checked) now."""
        auto = self.config.trainer.resume == "auto"
        if self.looked and not (auto and Path(self.run_dir).resolve() != run_dir.resolve()):
            return self.resume
        return checked_resume(self.config, run_dir)


def checked_resume(config: DictConfig, run_dir: Path) -> Resume | None:
    """The checkpoint trainer.resume names (auto: in `run_dir`), read and checked against
    the resolved `config`; None to start afresh."""
    found = find_resume(config.trainer.resume, run_dir)
    if found is not None:
        checks.check_resume(found[1], config, found[0])
    return found


def derive(cfg: DictConfig) -> DictConfig:
    """The resolved config of a composed one (left as it was): the architecture
    model.arch_seed draws, typed and range-checked by the schema as plain values, and the
    critic's normalization as the loss decides it."""
    drawn = cfg
    if cfg.model.get("arch_seed") is not None:
        drawn = copy.deepcopy(cfg)
        _draw_architecture(drawn)
    resolved = typed(drawn)
    _record_critic_norm(resolved)
    return resolved


def specify(cfg: DictConfig, run_dir: str | Path | None = None, world: bool = True) -> RunSpec:
    """The run specification of a composed config; one UserError for the first thing
    wrong. With `world`, the data files and optimizers are checked too, and the
    checkpoint to resume is found (in `run_dir` for trainer.resume=auto), read and
    checked against the config."""
    config = derive(cfg)
    checks.check_rules(config, sample_shape(config), get_class(config.data._target_).kind)
    resume, value = None, config.trainer.resume
    looked = world and value is not None and (value != "auto" or run_dir is not None)
    if world:
        checks.check_world(config)
    if looked:
        resume = checked_resume(config, Path(run_dir or "."))
    return RunSpec(
        config=config,
        composed=OmegaConf.to_container(cfg),
        device=checks.resolve_device(config.trainer.device),
        resume=resume,
        looked=looked,
        run_dir=None if run_dir is None else Path(run_dir),
    )


def check(cfg: DictConfig) -> DictConfig:
    """The resolved config of a composed one, checked without meeting the world (no data
    files read): for tests, benchmarks and gan-data."""
    return specify(cfg, world=False).config


def _draw_architecture(cfg: DictConfig) -> None:
    """model.arch_seed: the architecture it draws (gan_cli.models.space.SPACE) replaces
    the model's knobs, so the config (config.yaml, checkpoints, W&B) records it. Before
    the schema resolves the knobs into the networks' arguments."""
    seed = cfg.model.get("arch_seed")
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserError(f"model.arch_seed={seed}: an integer, or null for no draw")
    drawn = draw_architecture(seed, cfg.model.keys())
    if not drawn:
        raise UserError(f"model.arch_seed={seed}: this model has none of the study's knobs")
    for knob, value in drawn.items():
        cfg.model[knob] = value


def _record_critic_norm(cfg: DictConfig) -> None:
    """The loss decides what the critic may contain (batch norm breaks the gradient
    penalty; spectral norm replaces it), and the config records what the critic gets."""
    asked = cfg.model.discriminator.norm
    norm = get_class(cfg.loss.constraint._target_).critic_norm(asked)
    if norm != asked:
        cfg.model.discriminator.norm = norm
        if "d_norm" in cfg.model:
            cfg.model.d_norm = norm
