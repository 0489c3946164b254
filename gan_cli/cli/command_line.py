"""gan-train's command line, checked before Hydra starts a run, so a mistake leaves no
run folder behind: group options, key names (with the nearest key as a hint), keys
added with + that nothing reads, and, for a single run, every value (gan_cli.config).
"""

from __future__ import annotations

import string
import sys
from typing import TYPE_CHECKING, NoReturn

from hydra.core.override_parser.types import Override
from omegaconf import OmegaConf

from gan_cli.cli.hydra_flags import flags_help, parse_args
from gan_cli.config.compose import (
    compose_config,
    config_groups,
    parse_overrides,
    spell_group_choices,
)
from gan_cli.core.console import err_console
from gan_cli.core.errors import UserError, did_you_mean

if TYPE_CHECKING:
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
    groups = "".join(f"{g}: {', '.join(o)}\n" for g, o in config_groups().items() if o)
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return string.Template(template).substitute(
        FLAGS_HELP=flags_help(),
        HYDRA_CONFIG_GROUPS="(gan-train --hydra-help lists them)",
        APP_CONFIG_GROUPS=groups,
        CONFIG=OmegaConf.to_yaml(job, resolve=parsed.resolve),
    )


def check_command_line(args: list[str]) -> list[str]:
    """Check gan-train's arguments before Hydra starts a run; raise UserError if one is wrong.

    Checks group options (`loss=foo`), key names (`trainer.stpes=1`, with the nearest
    key as a hint), added keys nothing reads (`+trainer.step=1`) and, for a single run,
    every value of the composed config. Sweeps (-m) get the group and key checks; their
    values are checked by each job. Returns the arguments to hand to Hydra, with the
    choices of objectives and constraints spelled as Hydra wants them.
    """
    parsed = parse_args(args)
    if any(
        getattr(parsed, flag)
        for flag in ("help", "hydra_help", "info", "shell_completion", "experimental_rerun")
    ) or (parsed.config_name or parsed.config_dir or parsed.config_path):
        return args  # not a training run, or a config tree we do not know
    spelled = dict(
        zip(parsed.overrides, spell_group_choices(parsed.overrides, parsed.multirun), strict=True)
    )
    typed_as = {line: original.split("=", 1)[0] for original, line in spelled.items()}
    overrides = [o for o in parse_overrides(list(spelled.values())) if not o.is_hydra_override()]
    groups = config_groups()
    choices = [o for o in overrides if o.key_or_group.split("@")[0] in groups]
    for o in choices:
        if not o.is_delete():
            group = o.key_or_group.split("@")[0]
            values = o.sweep_string_iterator() if o.is_sweep_override() else [o.value()]
            # logger=[wandb,tensorboard]: several options of one group at once
            values = [
                v for value in values for v in (value if isinstance(value, list) else [value])
            ]
            for value in values:
                if value not in groups[group]:
                    key = typed_as[o.input_line]
                    options = "|".join(groups[group])
                    raise UserError(f"{key}={value} is not an option; choose one of {options}")
    # the keys the choices bring (a sweep over choices: those of its first value)
    base = compose_config([_first(o) for o in choices])
    known = _keys(OmegaConf.to_container(base))
    for o in overrides:
        if o not in choices:
            _check_key(o, known)
    if not parsed.multirun:
        run_dir = next(
            (
                o.value()
                for o in parse_overrides(parsed.overrides)
                if o.key_or_group == "hydra.run.dir"
            ),
            None,
        )
        # the values' checks build the model and the data's classes: torch, only now
        from gan_cli.config.checks import check, validate

        composed = compose_config([o.input_line for o in overrides])
        if parsed.cfg:  # printing the config: its checks only, no data read or fetched
            check(composed)
        else:
            validate(composed, run_dir)
    return [spelled.get(a, a) for a in args]


def _first(o: Override) -> str:
    """The override line of one value: a sweep's first (`loss=vanilla,lsgan`: loss=vanilla)."""
    if not o.is_sweep_override():
        return o.input_line
    return f"{o.input_line.split('=', 1)[0]}={next(iter(o.sweep_string_iterator()))}"


def _check_key(o: Override, known: list[str]) -> None:
    """A key the config has; or, added with +, one inside a free-form node (optim.g)."""
    key = o.key_or_group
    if o.is_add() or o.is_force_add():
        if _parent(key) in ("optim.g", "optim.d"):  # any argument of the optimizer's class
            return
        if key not in known:
            raise UserError(
                f"+{key}: gan-train reads no such key{did_you_mean(key, known)} "
                "(+ adds keys only to optim.g and optim.d)"
            )
    elif key not in known:
        parent = _parent(key)
        siblings = [k.rsplit(".", 1)[-1] for k in known if _parent(k) == parent]
        where = f"{parent or 'the config'} has {'|'.join(siblings)}" if siblings else "no such node"
        raise UserError(f"{key} is not a config key{did_you_mean(key, known)} ({where})")


def _parent(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def _keys(values: dict, prefix: str = "") -> list[str]:
    """Every key of a nested dict, in full (nodes and leaves)."""
    out = []
    for k, v in values.items():
        out.append(f"{prefix}{k}")
        if isinstance(v, dict):
            out += _keys(v, f"{prefix}{k}.")
    return out


def hydra_arguments(args: list[str], world: World) -> list[str]:
    """Each rank's Hydra arguments: every rank runs in rank 0's run folder, and only rank
    0 writes the config copy and the log file there."""
    parsed = parse_args(args)
    if parsed.multirun:
        raise UserError(
            "torchrun trains one run; for a sweep of multi-GPU runs use -m with "
            "hydra/launcher=submitit_slurm hydra.launcher.tasks_per_node=N"
        )
    if not any(o.startswith("hydra.run.dir=") for o in parsed.overrides):
        run_dir = None
        if world.is_main:
            hydra = compose_config(parsed.overrides, hydra=True).hydra
            run_dir = hydra.run.dir  # resolves ${now:...} once, here
        run_dir = world.broadcast(run_dir)
        quoted = run_dir.replace("\\", "\\\\").replace("'", "\\'")
        args = [*args, f"hydra.run.dir='{quoted}'"]
    if not world.is_main:
        args += ["hydra.output_subdir=null", "hydra/job_logging=disabled"]
    return args


def exit_with(error: Exception, code: int = 2) -> NoReturn:
    """The one line a user sees for a mistake, and the command's exit status."""
    err_console.print(f"[bold red]gan-train: error:[/] {error}", highlight=False, soft_wrap=True)
    sys.exit(code)
