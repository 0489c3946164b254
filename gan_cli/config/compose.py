"""Composing gan-train's config: where the configs live, the objectives and constraints
registered in code as options of their groups, and the overrides as Hydra reads them.
Composing runs nothing: no run folder, no objects."""

from __future__ import annotations

import functools
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_cli.constraints import CONSTRAINTS
from gan_cli.core.errors import UserError, one_line
from gan_cli.core.params import RUNTIME, signature_params
from gan_cli.losses import OBJECTIVES

CONFIG_NAME = "train"
# groups whose options write into `loss` itself: their parameters are loss.<name>
LOSS_PARTS = {"loss/objective": OBJECTIVES, "loss/constraint": CONSTRAINTS}


def config_dir() -> str:
    """The config folder: packaged in a wheel as gan_cli/conf, else the top-level conf/."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "conf"
    return str(packaged if packaged.is_dir() else package.parent / "conf")


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
    return _config_groups(*(tuple(registry) for registry in LOSS_PARTS.values()))


@functools.cache
def _config_groups(*registered: tuple[str, ...]) -> dict[str, list[str]]:
    """config_groups(), read once for each set of `registered` objectives and
    constraints (conf/ does not change while a process runs)."""
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


LISTS = ("data.augment",)  # keys whose value is a comma list, not a sweep


def spell_group_choices(overrides: list[str], sweep: bool = False) -> list[str]:
    """Let the choice of an objective or a constraint be written as a key.

    A preset puts them into `loss` (`/loss/objective@loss: hinge`), which Hydra spells
    `loss/objective@loss=hinge`; users may write `loss.objective=hinge` as well. And in
    one run (not a `sweep`), a comma list such as `data.augment=translation,cutout` is
    that key's one value, which Hydra wants quoted.
    """
    spelled = []
    for line, o in zip(overrides, parse_overrides(overrides), strict=True):
        group = o.key_or_group.replace(".", "/")
        if group in LOSS_PARTS and not (o.is_delete() or o.is_add()):
            line = f"{group}@loss={line.split('=', 1)[1]}"
        elif o.key_or_group in LISTS and o.is_sweep_override() and not sweep:
            line = f"{line.split('=', 1)[0]}='{','.join(o.sweep_string_iterator())}'"
        spelled.append(line)
    return spelled


def parse_overrides(overrides: list[str]) -> list[Override]:
    try:
        return OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as e:
        raise UserError(f"cannot parse {e.override!r}: {one_line(e)}") from e


store_loss_options()


def metrics_settings(cfg: DictConfig) -> DictConfig:
    """A run's `metrics` node over the defaults of train.yaml (a checkpoint of an older
    gan-cli may lack keys added since)."""
    defaults = OmegaConf.load(Path(config_dir()) / f"{CONFIG_NAME}.yaml").metrics
    return OmegaConf.merge(defaults, cfg.get("metrics", {}))
