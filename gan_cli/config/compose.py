"""Composing gan-train's config: where the configs live, the objectives and constraints
registered in code as options of their groups, and the overrides as Hydra reads them.
Composing runs nothing: no run folder, no objects.

A command line composes into jobs (one for a run, one per combination for a sweep): each
distinct choice of groups is composed once, and each job's keys are then set on a copy
as Hydra sets them, so a 12-job grid over values composes once or twice.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from gan_cli.config.hydra_private import apply_overrides, sweep_jobs
from gan_cli.constraints import CONSTRAINTS
from gan_cli.core.errors import UserError, did_you_mean, one_line
from gan_cli.core.params import RUNTIME, signature_params
from gan_cli.core.values import flat
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


def compose_config(overrides: list[str], hydra: bool = False, spelled: bool = False) -> DictConfig:
    """Compose gan-train's config with these overrides (no run, no Hydra run folder);
    with `hydra`, the `hydra` node as well; `spelled`: the choices already spelled
    (spell_group_choices)."""
    store_loss_options()
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            return compose(
                config_name=CONFIG_NAME,
                overrides=overrides if spelled else spell_group_choices(overrides),
                return_hydra_config=hydra,
            )
    except (HydraException, OmegaConfBaseException) as e:
        raise UserError(one_line(e)) from e


# groups the config chooses itself (the pairing of data and loss; the reconstructor
# of loss=ali and loss=veegan), never a user
INTERNAL_GROUPS = ("data_loss", "model/reconstructor")
# groups nested in a node, which users write as that node's key (model.generator=mlp)
NESTED_GROUPS = ("model/generator", "model/discriminator")


def user_groups() -> dict[str, list[str]]:
    """The groups a user picks from, as the command line spells them (a nested group
    with a dot: `loss.objective`, `model.generator`), without the internal ones."""
    return {
        group.replace("/", "."): options
        for group, options in config_groups().items()
        if group not in INTERNAL_GROUPS and options
    }


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
    """Let the choice of a nested group be written as a key.

    A preset puts an objective or a constraint into `loss` (`/loss/objective@loss:
    hinge`), which Hydra spells `loss/objective@loss=hinge`; users write
    `loss.objective=hinge`. The networks' groups nest in `model`: `model.generator=mlp`
    is Hydra's `model/generator=mlp`. And in
    one run (not a `sweep`), a comma list such as `data.augment=translation,cutout` is
    that key's one value, which Hydra wants quoted.
    """
    spelled = []
    for line, o in zip(overrides, parse_overrides(overrides), strict=True):
        group = o.key_or_group.replace(".", "/")
        if group in LOSS_PARTS and not (o.is_delete() or o.is_add()):
            line = f"{group}@loss={line.split('=', 1)[1]}"
        elif group in NESTED_GROUPS and not (o.is_delete() or o.is_add()):
            line = f"{group}={line.split('=', 1)[1]}"
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

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


@dataclass(frozen=True)
class Job:
    """One run of a command line: its overrides as Hydra hands them to the job (its
    overrides.task) and its composed config (no `hydra` node)."""

    overrides: tuple[str, ...]
    config: DictConfig

    @property
    def label(self) -> str:
        """How a message names a sweep's job: `job loss=wgan_gp loss.clip=0.01: `."""
        return job_label(self.overrides)


def job_label(overrides: tuple[str, ...] | list[str]) -> str:
    return f"job {' '.join(overrides)}: "


@dataclass(frozen=True)
class Composed:
    """A command line composed: its jobs, and the folders Hydra's config gives a run and
    a sweep (${now:...} resolved once, here)."""

    jobs: list[Job]
    run_dir: str
    sweep_dir: str


def compose_jobs(overrides: list[str], multirun: bool) -> Composed:
    """Every job of a command line's overrides: one for a run; each combination of a
    sweep's values (with hydra.sweeper.params), in the basic sweeper's order, or, for
    another sweeper (Optuna), the first values only, since it draws its jobs as it goes.
    A key the config lacks, or a value Hydra refuses, is one UserError naming the job of
    a sweep."""
    lines = spell_group_choices(overrides, multirun)
    parsed = parse_overrides(lines)
    task = [o for o in parsed if not o.is_hydra_override()]
    first = [_first_value(o) for o in task]
    groups = config_groups()
    try:
        whole = compose_config(
            first + [o.input_line for o in parsed if o.is_hydra_override()],
            hydra=True,
            spelled=True,
        )
    except UserError:  # a key the choices lack, named with a hint; else Hydra's line
        _check_keys(task, groups)
        raise
    hydra = whole.hydra
    run_dir, sweep_dir, sweeper = hydra.run.dir, hydra.sweep.dir, hydra.sweeper
    params = OmegaConf.to_container(sweeper.get("params") or OmegaConf.create({}))
    config = _without_hydra(whole)
    added = {o.key_or_group for o in task if o.is_add() or o.is_force_add()}
    known = [k for k in flat(OmegaConf.to_container(config), nodes=True) if k not in added]
    if not multirun:
        for o in task:
            if not _is_choice(o, groups):
                check_key(o, known)
        return Composed([Job(tuple(o.input_line for o in task), config)], run_dir, sweep_dir)
    if sweeper._target_ == BASIC_SWEEPER:
        swept = [*(f"{k}={v}" for k, v in params.items()), *(o.input_line for o in task)]
        combos = sweep_jobs(parse_overrides(swept))
    else:
        combos = [first]
    bases = {}
    if not added and not any(o.is_delete() for o in task) and not params:
        # every job sets each of its keys: the first job's config serves as the base
        bases[_choices(parse_overrides(first), groups)] = (config, known)
    jobs = []
    for combo in combos:
        label = job_label(combo)
        job = parse_overrides(combo)
        choices = _choices(job, groups)
        if choices not in bases:
            bases[choices] = _base(list(choices), label)
        config, known = copy.deepcopy(bases[choices][0]), bases[choices][1]
        values = [o for o in job if not _is_choice(o, groups)]
        for o in values:
            check_key(o, known, label)
        try:
            apply_overrides(values, config)
        except (HydraException, OmegaConfBaseException) as e:
            raise UserError(label + one_line(e)) from e
        jobs.append(Job(tuple(combo), config))
    return Composed(jobs, run_dir, sweep_dir)


def _choices(job: list[Override], groups: dict[str, list[str]]) -> tuple[str, ...]:
    """A job's choices of groups, spelled the same whichever way they were written."""
    return tuple(
        f"{o.get_key_element()}={o.get_value_element_as_str()}"
        for o in job
        if _is_choice(o, groups)
    )


def _base(choices: list[str], label: str) -> tuple[DictConfig, list[str]]:
    """A choice of groups, composed, and every key it has."""
    try:
        base = compose_config(choices, spelled=True)
    except UserError as e:
        raise UserError(label + str(e)) from e
    return base, list(flat(OmegaConf.to_container(base), nodes=True))


def _check_keys(task: list[Override], groups: dict[str, list[str]]) -> None:
    """Every key of a run's overrides is one its choice of groups has."""
    choices = [o.input_line for o in task if _is_choice(o, groups)]
    known = _base(choices, "")[1]
    for o in task:
        if not _is_choice(o, groups):
            check_key(o, known)


def check_key(o: Override, known: list[str], label: str = "") -> None:
    """A key the config has; or, added with +, one inside a free-form node (optim.g)."""
    key = o.key_or_group
    if o.is_add() or o.is_force_add():
        if _parent(key) in ("optim.g", "optim.d"):  # any argument of the optimizer's class
            return
        if key not in known:
            raise UserError(
                f"{label}+{key}: gan-train reads no such key{did_you_mean(key, known)} "
                "(+ adds keys only to optim.g and optim.d)"
            )
    elif key not in known and not o.is_delete():
        parent = _parent(key)
        siblings = [k for k in known if _parent(k) == parent]
        # the nearest sibling where the node exists (loss.clip is not loss.pack), else any key
        near = did_you_mean(key, siblings, by_name=True) if siblings else did_you_mean(key, known)
        names = "|".join(k.rsplit(".", 1)[-1] for k in siblings)
        where = f"{parent or 'the config'} has {names}" if siblings else "no such node"
        raise UserError(f"{label}{key} is not a config key{near} ({where})")


def _parent(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def _is_choice(o: Override, groups: dict[str, list[str]]) -> bool:
    """An override that picks an option of a group (loss=wgan, +experiment=...)."""
    return o.key_or_group.split("@")[0] in groups


def _first_value(o: Override) -> str:
    """The override line of one value: a sweep's first (`loss=vanilla,lsgan`: loss=vanilla)."""
    if not o.is_sweep_override():
        return o.input_line
    return f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}"


def _without_hydra(cfg: DictConfig) -> DictConfig:
    """A config composed with its `hydra` node, as compose would return it without."""
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def metrics_settings(cfg: DictConfig) -> DictConfig:
    """A run's `metrics` node over the defaults of train.yaml (a checkpoint of an older
    gan-cli may lack keys added since)."""
    defaults = OmegaConf.load(Path(config_dir()) / f"{CONFIG_NAME}.yaml").metrics
    return OmegaConf.merge(defaults, cfg.get("metrics", {}))
