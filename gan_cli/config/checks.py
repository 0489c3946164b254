"""The rules a schema cannot say, checked once for each run (gan_cli.config.spec): which
model fits which data, which metric fits which data, a constraint that fits the
objective, class conditioning that can work, a device this machine has, files that must
exist; what needs the world (data files, optimizer arguments); and a checkpoint to
resume that fits the run.

Types, enums and unknown keys are the schema's (gan_cli.config.schema). Each rule raises
one UserError naming the key and what is allowed.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from gan_cli import metrics
from gan_cli.config.build import LABELLED, arguments, critic, generator, optimizer
from gan_cli.config.compose import config_dir
from gan_cli.config.schema import may_change
from gan_cli.config.targets import target_class
from gan_cli.constraints import CONSTRAINTS, Constraint
from gan_cli.core.errors import UserError
from gan_cli.core.params import registered_name
from gan_cli.core.values import flat
from gan_cli.data.base import IMAGES
from gan_cli.losses import OBJECTIVES
from gan_cli.tracking.tracker import selected
from gan_cli.training.unroll import simulated_update


def resolve_device(name: str, key: str = "trainer.device") -> torch.device:
    """auto picks cuda, then mps, then cpu; an explicit device must be available."""
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if not available.get(name, False):
        usable = ", ".join(["auto"] + [d for d, ok in available.items() if ok])
        raise UserError(f"{key}={name} is not available on this machine; use one of {usable}")
    return torch.device(name)


def check_rules(cfg: DictConfig, shape: tuple[int, ...], kind: str) -> None:
    """The rules between the keys of a derived config (gan_cli.config.spec.derive) whose
    data holds samples of `shape`, of `kind`; one UserError for the first broken one.
    Cheap: reads nothing but the config."""
    resolve_device(cfg.trainer.device)
    if cfg.trainer.resume not in (None, "auto") and not Path(cfg.trainer.resume).exists():
        raise UserError(f"trainer.resume={cfg.trainer.resume}: no such checkpoint or run folder")
    _check_model_fits(cfg, shape)
    _check_architecture(cfg, shape)
    _check_constraint_fits(cfg)
    _check_conditional(cfg, kind)
    _check_joint(cfg)
    _check_augment(cfg)
    if "boost" in cfg and cfg.model.conditional != "none":
        raise UserError("+boost=adagan mixes unconditional generators: set model.conditional=none")
    metrics.selected(cfg.metrics, kind)  # names known, and fitting this data
    weights = cfg.metrics.inception_weights
    if weights is not None and not Path(weights).is_file():
        raise UserError(f"metrics.inception_weights={weights} is not a file")
    _check_trackers(cfg)


def check_world(cfg: DictConfig) -> None:
    """What needs the world: the data files are there (downloaded if allowed), and each
    optimizer accepts its arguments (built on a dummy parameter)."""
    data_cls = get_class(cfg.data._target_)
    if hasattr(data_cls, "prepare"):
        data_cls.prepare(**arguments(cfg.data))
    for side in ("g", "d", "r"):
        if cfg.optim[side] is not None:
            built = optimizer(cfg, f"optim.{side}", [torch.zeros(1, requires_grad=True)])
    if cfg.loss.unroll:  # the critic's optimizer is one the unrolled steps can simulate
        simulated_update(built)


def check_resume(state: dict[str, Any], cfg: DictConfig, path: Path) -> None:
    """One line if the checkpoint at `path` was trained with another config than `cfg`
    (in a key a resumed run may not change: gan_cli.config.schema.may_change), or is
    already at or past trainer.steps."""
    saved, now = flat(state["config"]), flat(OmegaConf.to_container(cfg))
    boosted = "mixture" in state  # an AdaGAN run (+boost=adagan): counted in rounds
    if boosted and "boost" not in cfg:
        raise UserError(f"trainer.resume: {path} is an AdaGAN run: resume it with +boost=adagan")
    changeable = (*may_change(), "boost.rounds") if boosted else may_change()
    differ = [
        k
        for k in sorted(saved.keys() & now.keys())
        if not _same(k, saved[k], now[k]) and not k.startswith(changeable)
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


def _same(key: str, saved: Any, now: Any) -> bool:
    """A saved value is this run's: equal, or a `_target_` naming the same class by
    another path (gan_cli.data.images.MNIST, where older configs name it)."""
    if saved == now:
        return True
    if not key.endswith("_target_"):
        return False
    try:
        return target_class(saved, key) is target_class(now, key)
    except UserError:
        return False


def _check_trackers(cfg: DictConfig) -> None:
    """A tracker whose package is not installed is one line naming the extra to install."""
    for name in sorted(selected(OmegaConf.to_container(cfg.logger)) - {"wandb"}):
        if importlib.util.find_spec(name) is None:
            raise UserError(
                f"logger={name} needs the {name} package: make install, or "
                f"pip install -e '.[{name}]' in the source checkout"
            )


def _check_architecture(cfg: DictConfig, shape: tuple[int, ...]) -> None:
    """Stop an architecture its knobs cannot build (a depth the resolution cannot hold, a
    conditional generator without batch norm), by building both networks without
    memory (on the meta device)."""
    what = {k: OmegaConf.to_container(cfg[k]) for k in ("data", "model", "loss")}
    key = json.dumps([what, shape], sort_keys=True, default=str)
    if key in _BUILT:  # the jobs of a sweep over seeds or learning rates share one build
        return
    n_classes = 0 if cfg.model.conditional == "none" else 2  # any number: the same layers
    with torch.device("meta"):
        generator(cfg, n_classes)
        critic(cfg, shape, n_classes)
    _BUILT.add(key)


_BUILT: set[str] = set()  # the data, model and loss nodes built so, in this process


def _check_constraint_fits(cfg: DictConfig) -> None:
    """Stop a constraint that makes no sense with the objective (R1 with Wasserstein)."""
    constraint = get_class(cfg.loss.constraint._target_)
    objective = get_class(cfg.loss.objective._target_)
    name = registered_name(OBJECTIVES, objective)
    if why := constraint.refuses_objectives.get(name):
        chosen = registered_name(CONSTRAINTS, constraint)
        raise UserError(f"loss.constraint={chosen} does not fit loss.objective={name}: {why}")


def _check_conditional(cfg: DictConfig, kind: str) -> None:
    """Class conditioning needs labelled images, and one label per sample: no packs (whose
    samples would need a label each) and no unrolled steps (which do not carry labels)."""
    chosen = cfg.model.conditional
    if chosen == "none":
        return
    if kind != IMAGES:
        raise UserError(
            f"model.conditional={chosen} needs labelled images ({LABELLED}); this data "
            f"holds {kind}, without labels"
        )
    for key, plain in (("pack", 1), ("unroll", 0)):
        if cfg.loss[key] != plain:
            raise UserError(
                f"loss.{key}={cfg.loss[key]} does not combine with model.conditional={chosen}: "
                f"set loss.{key}={plain}, or model.conditional=none"
            )


def _check_joint(cfg: DictConfig) -> None:
    """An objective on pairs (loss=ali|veegan) updates its three networks together from
    one batch of pairs: no packs, unrolled steps or labels, and no penalty (defined on
    the critic of samples, not of pairs); it needs its reconstructor."""
    objective = get_class(cfg.loss.objective._target_)
    if not objective.networks:
        return
    name = registered_name(OBJECTIVES, objective)
    chosen = f"loss={name}"
    if "reconstructor" not in cfg.model or cfg.optim.r is None:
        raise UserError(
            f"loss.objective={name} needs a reconstructor and its optimizer: use loss={name}"
        )
    plain = {"loss.pack": 1, "loss.unroll": 0, "model.conditional": "none"}
    for key, value in plain.items():
        given = OmegaConf.select(cfg, key)
        if given != value:
            raise UserError(
                f"{key}={given} does not combine with {chosen}, which trains its three "
                f"networks together on pairs (x, z): set {key}={value}"
            )
    constraint = get_class(cfg.loss.constraint._target_)
    if constraint.penalty is not Constraint.penalty:
        which = registered_name(CONSTRAINTS, constraint)
        raise UserError(
            f"loss.constraint={which} penalizes the critic's gradient in x, which "
            f"{chosen}'s critic on pairs (x, z) does not have: use none, weight_clipping or "
            "spectral_norm"
        )


def _check_augment(cfg: DictConfig) -> None:
    """data.augment transforms whole images before the critic: not packs (whose channels
    hold several samples) nor the unrolled steps (which call the critic directly)."""
    spec = cfg.data.get("augment")
    if not spec or spec == "none":
        return
    for key, plain in (("pack", 1), ("unroll", 0)):
        if cfg.loss[key] != plain:
            raise UserError(
                f"loss.{key}={cfg.loss[key]} does not combine with data.augment={spec}: "
                f"set loss.{key}={plain}, or data.augment=''"
            )


def _check_model_fits(cfg: DictConfig, shape: tuple[int, ...]) -> None:
    """Stop a model/data pairing that cannot work (the generator's family, or the
    critic's when it is another), naming which models fit which data."""

    def module_of(target: str):
        return importlib.import_module(target.rsplit(".", 1)[0])

    for part in ("generator", "discriminator"):
        chosen = module_of(cfg.model[part]._target_)
        if chosen.fits(shape):
            continue
        # each model=NAME's generator (conf/model/generator/NAME.yaml), read as files:
        # a sweep's job runs inside Hydra, where composing again is not allowed
        models = {}
        for file in sorted((Path(config_dir()) / "model").glob("*.yaml")):
            generator = OmegaConf.load(file.parent / "generator" / file.name)._target_
            models[file.stem] = module_of(generator)
        model = registered_name(models, chosen, chosen.__name__)
        fit = "; ".join(f"model={n} fits {m.FITS}" for n, m in models.items())
        which = f"model={model}" if part == "generator" else f"model.discriminator={model}"
        raise UserError(f"{which} does not fit this data (samples of shape {shape}): {fit}")
