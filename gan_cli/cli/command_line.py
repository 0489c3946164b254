"""gan-train's command line, checked before Hydra starts a run, so a mistake leaves no
run folder behind: group options, key names (with the nearest key as a hint), keys
added with + that nothing reads, and every value of every job (gan_cli.config.spec).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from omegaconf import DictConfig, OmegaConf

from gan_cli.config.compose import (
    compose_config,
    compose_jobs,
    config_groups,
    parse_overrides,
    spell_group_choices,
    user_groups,
)
from gan_cli.config.hydra_private import NOT_A_RUN, flags_help, parse_args
from gan_cli.core.console import fail
from gan_cli.core.errors import UserError

if TYPE_CHECKING:
    from gan_cli.config.spec import RunSpec
    from gan_cli.training.distributed import World


def asks_for_help(args: list[str]) -> bool:
    """`gan-train --help` (with gan-cli's own config tree)."""
    parsed = parse_args(args)
    return parsed.help and not (parsed.config_name or parsed.config_dir or parsed.config_path)


def help_text(args: list[str]) -> str:
    """What `gan-train --help` prints: Hydra's help, from the template of `hydra.help`,
    with the config groups listed by gan-cli (Hydra lists its own as well, for a template
    that never shows them: a second and a half of deep copies, on every --help)."""
    parsed = parse_args(args)
    cfg = compose_config(parsed.overrides, hydra=True)
    template = cfg.hydra.help.template
    groups = "".join(f"{g}: {', '.join(o)}\n" for g, o in user_groups().items())
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return string.Template(template).substitute(
        FLAGS_HELP=flags_help(),
        HYDRA_CONFIG_GROUPS="(gan-train --hydra-help lists them)",
        APP_CONFIG_GROUPS=groups,
        CONFIG=OmegaConf.to_yaml(job, resolve=parsed.resolve),
    )


@dataclass
class Plan:
    """A checked gan-train command line: the arguments to hand to Hydra (choices spelled
    as Hydra wants them; a sweep's folder fixed), and each job's run specification by
    its overrides (empty for a command that trains nothing, such as --cfg)."""

    args: list[str]
    specs: dict[tuple[str, ...], RunSpec] = field(default_factory=dict)
    sweep_dir: Path | None = None  # a sweep's folder (its jobs' status.json)
    run_dir: str | None = None  # a run's folder, where Hydra's config fixes it (${now:...})

    def spec_for(self, cfg: DictConfig, overrides: list[str]) -> RunSpec | None:
        """The spec made for the job Hydra composed as `cfg`, if this plan made it."""
        spec = self.specs.get(tuple(overrides))
        if spec is not None and spec.composed == OmegaConf.to_container(cfg):
            return spec
        return None


def check_command_line(args: list[str]) -> Plan:
    """Check gan-train's arguments before Hydra starts a run; raise UserError if one is
    wrong, and nothing is written.

    Checks group options (`loss=foo`), then composes every job (one for a run, each
    combination of a sweep) and checks it: key names (`trainer.stpes=1`, with the nearest
    key as a hint), added keys nothing reads (`+trainer.step=1`), and every value, the
    data files and optimizers included. A sweep's mistake names its job's overrides.
    """
    parsed = parse_args(args)
    if any(getattr(parsed, flag) for flag in NOT_A_RUN if flag != "cfg") or (
        parsed.config_name or parsed.config_dir or parsed.config_path
    ):
        return Plan(args)  # not a training run, or a config tree we do not know
    if parsed.cfg and parsed.multirun:
        raise UserError("--cfg prints the config of one run: leave out -m")
    spelled = dict(
        zip(parsed.overrides, spell_group_choices(parsed.overrides, parsed.multirun), strict=True)
    )
    _check_choices(spelled)
    composed = compose_jobs(parsed.overrides, parsed.multirun)
    run_dir = None if parsed.multirun else _given(parsed.overrides, "hydra.run.dir")
    # the checks build the model and the data's classes: torch, only now
    from gan_cli.config.spec import specify

    specs, seen = {}, set()
    for job in composed.jobs:
        world = json.dumps([OmegaConf.to_container(job.config[k]) for k in ("data", "optim")])
        label = job.label if parsed.multirun else ""
        try:  # printing the config (--cfg): its checks only, no data read or fetched
            spec = specify(job.config, run_dir, world=not parsed.cfg and world not in seen)
        except UserError as e:
            raise UserError(label + str(e)) from e
        specs[job.overrides] = spec
        seen.add(world)
    args = [spelled.get(a, a) for a in args]
    if parsed.cfg:
        return Plan(args)
    if parsed.multirun:
        if _given(parsed.overrides, "hydra.sweep.dir") is None:
            args.append(f"hydra.sweep.dir={quoted(composed.sweep_dir)}")
        return Plan(args, specs, sweep_dir=Path(composed.sweep_dir))
    return Plan(args, specs, run_dir=composed.run_dir)


def _check_choices(spelled: dict[str, str]) -> None:
    """Each group option given is one of its group's (every value of a sweep)."""
    typed_as = {line: original.split("=", 1)[0] for original, line in spelled.items()}
    groups = config_groups()
    for o in parse_overrides(list(spelled.values())):
        group = o.key_or_group.split("@")[0]
        if o.is_hydra_override() or group not in groups or o.is_delete():
            continue
        values = o.sweep_string_iterator() if o.is_sweep_override() else [o.value()]
        # logger=[wandb,tensorboard]: several options of one group at once
        values = [v for value in values for v in (value if isinstance(value, list) else [value])]
        for value in values:
            if value not in groups[group]:
                options = "|".join(groups[group])
                raise UserError(
                    f"{typed_as[o.input_line]}={value} is not an option; choose one of {options}"
                )


def _given(overrides: list[str], key: str) -> str | None:
    """The value a command line gives `key` (hydra.run.dir), or None."""
    return next((o.value() for o in parse_overrides(overrides) if o.key_or_group == key), None)


def quoted(path: str | Path) -> str:
    """A path as a single-quoted Hydra override value."""
    return "'" + str(path).replace("\\", "\\\\").replace("'", "\\'") + "'"


def hydra_arguments(args: list[str], run_dir: str | None, world: World) -> list[str]:
    """Each rank's Hydra arguments: every rank runs in rank 0's run folder, and only rank
    0 writes the config copy and the log file there."""
    parsed = parse_args(args)
    if parsed.multirun:
        raise UserError(
            "torchrun trains one run; for a sweep of multi-GPU runs use -m with "
            "hydra/launcher=submitit_slurm hydra.launcher.tasks_per_node=N"
        )
    if not any(o.startswith("hydra.run.dir=") for o in parsed.overrides):
        run_dir = world.broadcast(run_dir if world.is_main else None)
        args = [*args, f"hydra.run.dir={quoted(run_dir)}"]
    if not world.is_main:
        args += ["hydra.output_subdir=null", "hydra/job_logging=disabled"]
    return args


def exit_with(error: Exception, code: int = 2) -> NoReturn:
    """gan-train's one line for a mistake, and its exit status."""
    fail("gan-train", error, code)
