"""The rules a schema cannot say: which model fits which data, which metric fits which
data, a constraint that fits the objective, class conditioning that can work, a device
this machine has, files that must exist; and, for the command line, what needs the
world (data files, optimizer arguments, a checkpoint to resume).

Types, enums and unknown keys are the schema's (gan_cli.config.schema). The command line
is checked before Hydra starts a run, so a mistake leaves no run folder behind.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from gan_cli import metrics
from gan_cli.config.build import LABELLED, arguments, critic, generator, optimizer
from gan_cli.config.compose import config_dir
from gan_cli.config.schema import typed
from gan_cli.constraints import CONSTRAINTS, Constraint
from gan_cli.core.errors import UserError
from gan_cli.data.base import IMAGES
from gan_cli.losses import OBJECTIVES
from gan_cli.models.space import draw_architecture
from gan_cli.training.resume import check_resume, find_resume
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


def resolve(cfg: DictConfig) -> DictConfig:
    """The resolved config, the one a run trains and writes to config.yaml (and into its
    checkpoints and W&B run): typed and range-checked by the schema, as plain values, with
    what the config derives written in: the architecture model.arch_seed draws, and the
    critic's normalization as the loss decides it. `cfg` itself is left as it was."""
    drawn = copy.deepcopy(cfg)
    _draw_architecture(drawn)
    resolved = typed(drawn)
    _record_critic_norm(resolved)
    return resolved


def check(cfg: DictConfig) -> DictConfig:
    """The resolved config (see `resolve`), checked against the rules between keys; one
    UserError for the first broken one. Cheap, and reads nothing but the config (no data
    files: `validate` meets the world)."""
    cfg = resolve(cfg)
    resolve_device(cfg.trainer.device)
    if cfg.trainer.resume not in (None, "auto") and not Path(cfg.trainer.resume).exists():
        raise UserError(f"trainer.resume={cfg.trainer.resume}: no such checkpoint or run folder")
    data_cls = get_class(cfg.data._target_)
    shape = data_cls.sample_shape(**arguments(cfg.data))
    _check_model_fits(cfg, shape)
    _check_architecture(cfg, shape)
    _check_constraint_fits(cfg)
    _check_conditional(cfg, data_cls.kind)
    _check_pairs(cfg)
    _check_augment(cfg)
    if "boost" in cfg and cfg.model.conditional != "none":
        raise UserError("+boost=adagan mixes unconditional generators: set model.conditional=none")
    metrics.selected(cfg.metrics, data_cls.kind)  # names known, and fitting this data
    weights = cfg.metrics.inception_weights
    if weights is not None and not Path(weights).is_file():
        raise UserError(f"metrics.inception_weights={weights} is not a file")
    _check_trackers(cfg)
    return cfg


def _check_trackers(cfg: DictConfig) -> None:
    """A tracker whose package is not installed is one line naming the extra to install."""
    import importlib.util

    from gan_cli.training.tracking import selected

    for name in sorted(selected(OmegaConf.to_container(cfg.logger)) - {"wandb"}):
        if importlib.util.find_spec(name) is None:
            raise UserError(
                f"logger={name} needs the {name} package: pip install 'gan-cli[{name}]'"
            )


def validate(cfg: DictConfig, run_dir: str | None = None) -> DictConfig:
    """`check`, and what needs the world: the data files are there (downloaded if
    allowed), each optimizer accepts its arguments, a checkpoint to resume (from
    `run_dir` with trainer.resume=auto) fits. For the command line, before Hydra makes a
    run folder; a run itself meets these when it builds its objects."""
    cfg = check(cfg)
    if run_dir is not None or cfg.trainer.resume not in (None, "auto"):
        found = find_resume(cfg.trainer.resume, Path(run_dir or "."))
        if found is not None:
            check_resume(found[1], cfg, found[0])
    data_cls = get_class(cfg.data._target_)
    if hasattr(data_cls, "prepare"):
        data_cls.prepare(**arguments(cfg.data))
    for side in ("g", "d", "r"):  # on a dummy parameter: bad arguments fail here
        if cfg.optim[side] is not None:
            built = optimizer(cfg, f"optim.{side}", [torch.zeros(1, requires_grad=True)])
    if cfg.loss.unroll:  # the critic's optimizer is one the unrolled steps can simulate
        simulated_update(built)
    return cfg


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


def _check_architecture(cfg: DictConfig, shape: tuple[int, ...]) -> None:
    """Stop an architecture its knobs cannot build (a depth the resolution cannot hold, a
    conditional generator without batch norm), by building both networks without
    memory (on the meta device)."""
    n_classes = 0 if cfg.model.conditional == "none" else 2  # any number: the same layers
    with torch.device("meta"):
        generator(cfg, n_classes)
        critic(cfg, shape, n_classes)


def _check_constraint_fits(cfg: DictConfig) -> None:
    """Stop a constraint that makes no sense with the objective (R1 with Wasserstein)."""
    constraint = get_class(cfg.loss.constraint._target_)
    objective = get_class(cfg.loss.objective._target_)
    name = next(n for n, cls in OBJECTIVES.items() if cls is objective)
    if why := constraint.refuses_objectives.get(name):
        chosen = next(n for n, cls in CONSTRAINTS.items() if cls is constraint)
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


def _check_pairs(cfg: DictConfig) -> None:
    """An objective on pairs (loss=ali|veegan) updates its three networks together from
    one batch of pairs: no packs, unrolled steps or labels, and no penalty (defined on
    the critic of samples, not of pairs); it needs its reconstructor."""
    objective = get_class(cfg.loss.objective._target_)
    if not objective.networks:
        return
    name = next(n for n, cls in OBJECTIVES.items() if cls is objective)
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
        which = next(n for n, cls in CONSTRAINTS.items() if cls is constraint)
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
        model = next((n for n, m in models.items() if m is chosen), chosen.__name__)
        fit = "; ".join(f"model={n} fits {m.FITS}" for n, m in models.items())
        which = f"model={model}" if part == "generator" else f"model/discriminator={model}"
        raise UserError(f"{which} does not fit this data (samples of shape {shape}): {fit}")
