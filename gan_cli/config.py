"""Config plumbing: where the configs live, composing them, checking user input, and the
one helper that turns `_target_` nodes into objects.

Types, enums and unknown keys are the schema's (gan_cli.schema); here are only the rules
a schema cannot say (which model fits which data, which metric fits which data, a
device this machine has, files that must exist). The command line is checked before
Hydra starts a run, so a mistake leaves no run folder behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from hydra._internal.utils import _locate
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, InstantiationException, OverrideParseException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_cli import metrics
from gan_cli.constraints import CONSTRAINTS
from gan_cli.data.base import IMAGES
from gan_cli.errors import UserError, one_line
from gan_cli.losses import OBJECTIVES
from gan_cli.params import signature_params
from gan_cli.schema import RUNTIME, typed

CONFIG_NAME = "train"
LABELLED = "data=mnist|fashion_mnist|cifar10|stacked_mnist, or image_folder with class subfolders"
# groups whose options write into `loss` itself: their parameters are loss.<name>
LOSS_PARTS = {"loss/objective": OBJECTIVES, "loss/constraint": CONSTRAINTS}


def config_dir() -> str:
    """The config folder: packaged in a wheel as gan_cli/conf, else the top-level conf/."""
    packaged = Path(__file__).resolve().parent / "conf"
    return str(packaged if packaged.is_dir() else packaged.parent.parent / "conf")


def store_loss_options() -> None:
    """Each registered objective and constraint as an option of its group, from its class:
    {objective: {_target_: ...}, <its parameters with their defaults>}, in `loss`."""
    store = ConfigStore.instance()
    for group, registry in LOSS_PARTS.items():
        part = group.split("/")[1]
        for name, cls in registry.items():
            node = {part: {"_target_": f"{cls.__module__}.{cls.__qualname__}"}}
            node |= {p.name: p.default for p in signature_params(cls, skip=RUNTIME)}
            store.store(group=group, name=name, node=node, package="loss")


def build(node: DictConfig, **kwargs: Any) -> Any:
    """Instantiate a `_target_` node, passing `kwargs` the config cannot know (shapes, device)."""
    key = node._get_full_key(None) or "config"
    target = node.get("_target_")
    try:
        _locate(target)  # a class or a function (hydra.utils.get_method would log too)
    except Exception as e:
        raise UserError(f"{key}._target_={target} is not a class gan-cli can import") from e
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as e:
        if isinstance(e.__cause__, UserError):  # already the line users see
            raise e.__cause__ from None
        raise UserError(f"{key}: {one_line(e.__cause__ or e)}") from e


def optimizer(node: DictConfig, params) -> torch.optim.Optimizer:
    """The optimizer of an `optim.g` / `optim.d` node over `params`; one line if its
    arguments do not fit its class."""
    try:
        return build(node)(params)
    except (TypeError, ValueError) as e:
        raise UserError(f"{node._get_full_key(None)}: {one_line(e)}") from e


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


# --- checks ----------------------------------------------------------------------------------


def check(cfg: DictConfig) -> DictConfig:
    """The config as a run uses it: typed and range-checked by the schema, then the rules
    between keys. Cheap and without side effects."""
    cfg = typed(cfg)
    _record_critic_norm(cfg)
    resolve_device(cfg.trainer.device)
    if cfg.trainer.resume not in (None, "auto") and not Path(cfg.trainer.resume).exists():
        raise UserError(f"trainer.resume={cfg.trainer.resume}: no such checkpoint or run folder")
    data_cls = get_class(cfg.data._target_)
    shape = data_cls.sample_shape(**arguments(cfg.data))
    _check_model_fits(cfg, shape)
    _check_constraint_fits(cfg)
    _check_conditional(cfg, data_cls.kind)
    metrics.selected(cfg.metrics, data_cls.kind)  # names known, and fitting this data
    weights = cfg.metrics.inception_weights
    if weights is not None and not Path(weights).is_file():
        raise UserError(f"metrics.inception_weights={weights} is not a file")
    return cfg


def validate(cfg: DictConfig, run_dir: str | None = None) -> DictConfig:
    """`check`, and what needs the world: the data files are there (downloaded if
    allowed), each optimizer accepts its arguments, a checkpoint to resume (from
    `run_dir` with trainer.resume=auto) fits. For the command line, before Hydra makes a
    run folder; a run itself meets these when it builds its objects."""
    from gan_cli.resume import check_resume, find_resume

    cfg = check(cfg)
    if run_dir is not None or cfg.trainer.resume not in (None, "auto"):
        found = find_resume(cfg.trainer.resume, Path(run_dir or "."))
        if found is not None:
            check_resume(found[1], cfg, found[0])
    data_cls = get_class(cfg.data._target_)
    if hasattr(data_cls, "prepare"):
        data_cls.prepare(**arguments(cfg.data))
    for side in ("g", "d"):  # on a dummy parameter: bad arguments fail here
        built = optimizer(cfg.optim[side], [torch.zeros(1, requires_grad=True)])
    if cfg.loss.unroll:  # the critic's optimizer is one the unrolled steps can simulate
        from gan_cli.unroll import simulated_update

        simulated_update(built)
    return cfg


def _record_critic_norm(cfg: DictConfig) -> None:
    """The loss decides what the critic may contain (batch norm breaks the gradient
    penalty; spectral norm replaces it), and the config records what the critic gets."""
    asked = cfg.model.discriminator.norm
    norm = get_class(cfg.loss.constraint._target_).critic_norm(asked)
    if norm != asked:
        cfg.model.discriminator.norm = norm
        if "d_norm" in cfg.model:
            cfg.model.d_norm = norm


def _check_constraint_fits(cfg: DictConfig) -> None:
    """Stop a constraint that makes no sense with the objective (R1 with Wasserstein)."""
    constraint = get_class(cfg.loss.constraint._target_)
    objective = get_class(cfg.loss.objective._target_)
    name = next(n for n, cls in OBJECTIVES.items() if cls is objective)
    if why := constraint.refuses_objectives.get(name):
        chosen = next(n for n, cls in CONSTRAINTS.items() if cls is constraint)
        raise UserError(f"loss.constraint={chosen} does not fit loss.objective={name}: {why}")


def _check_conditional(cfg: DictConfig, kind: str) -> None:
    """Class conditioning needs labelled images, and one label a sample: no packs (whose
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


def _check_model_fits(cfg: DictConfig, shape: tuple[int, ...]) -> None:
    """Stop a model/data pairing that cannot work, naming which models fit which data."""
    import importlib

    def module_of(target: str):
        return importlib.import_module(target.rsplit(".", 1)[0])

    chosen = module_of(cfg.model.generator._target_)
    if chosen.fits(shape):
        return
    models = {}
    for name in config_groups()["model"]:
        generator = compose_config([f"model={name}"]).model.generator._target_
        models[name] = module_of(generator)
    model = next((n for n, m in models.items() if m is chosen), chosen.__name__)
    fit = "; ".join(f"model={n} fits {m.FITS}" for n, m in models.items())
    raise UserError(f"model={model} does not fit this data (samples of shape {shape}): {fit}")


def arguments(node: DictConfig) -> dict:
    """A `_target_` node's arguments as plain values."""
    return {k: v for k, v in OmegaConf.to_container(node).items() if k != "_target_"}


# --- composing and the command line ----------------------------------------------------------


def compose_config(overrides: list[str], hydra: bool = False) -> DictConfig:
    """Compose gan-train's config with these overrides (no run, no Hydra run folder);
    with `hydra`, the `hydra` node as well."""
    store_loss_options()
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            return compose(
                config_name=CONFIG_NAME,
                overrides=spell_group_choices(overrides),
                return_hydra_config=hydra,
            )
    except (HydraException, OmegaConfBaseException) as e:
        raise UserError(one_line(e)) from e


def config_groups() -> dict[str, list[str]]:
    """Every config group (nested ones as loss/objective) and its options, from files
    and from the registered objectives and constraints."""
    store_loss_options()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        groups, stack = {}, [""]
        while stack:
            parent = stack.pop()
            for name in loader.list_groups(parent):
                group = f"{parent}/{name}" if parent else name
                if group != "hydra":
                    groups[group] = sorted(loader.get_group_options(group))
                    stack.append(group)
    return dict(sorted(groups.items()))


def spell_group_choices(overrides: list[str]) -> list[str]:
    """Let the choice of an objective or a constraint be written as a key.

    A preset puts them into `loss` (`/loss/objective@loss: hinge`), which Hydra spells
    `loss/objective@loss=hinge`; users may write `loss.objective=hinge` as well.
    """
    spelled = []
    for line, o in zip(overrides, parse_overrides(overrides), strict=True):
        group = o.key_or_group.replace(".", "/")
        if group in LOSS_PARTS and not (o.is_delete() or o.is_add()):
            line = f"{group}@loss={line.split('=', 1)[1]}"
        spelled.append(line)
    return spelled


def parse_overrides(overrides: list[str]) -> list[Override]:
    try:
        return OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as e:
        raise UserError(f"cannot parse {e.override!r}: {one_line(e)}") from e


store_loss_options()
