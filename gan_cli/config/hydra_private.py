"""Hydra's private modules, in one place: its command-line parser and flag list, its
basic sweeper's split of a sweep into jobs, how it applies overrides to a composed
config, and its app runner.

gan-train reads its command line before Hydra does (a mistake must leave no run folder)
and composes each job of a sweep to check it before the first one starts; doing that
the way Hydra does needs these. hydra-core is pinned below 1.4 for them, and
tests/test_cli.py fails on a Hydra whose parser, help, sweeper or runner moved.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from hydra.core.override_parser.types import Override
from omegaconf import DictConfig

# flags that make gan-train something other than a training run (Hydra answers them)
NOT_A_RUN = ("help", "hydra_help", "info", "shell_completion", "experimental_rerun", "cfg")


def parse_args(args: list[str]) -> argparse.Namespace:
    """gan-train's arguments as Hydra parses them: `.overrides`, `.multirun`, `.help`, ..."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser().parse_args(args)


def flags_help() -> str:
    """Hydra's own list of its flags, as its --help shows it."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import get_args_parser

    return Hydra.format_args_help(get_args_parser())


def sweep_jobs(overrides: list[Override]) -> list[list[str]]:
    """The override lines of each job of a sweep, in Hydra's basic sweeper's order and
    spelling (`loss.gp_lambda=1,10` -> [[loss.gp_lambda=1], [loss.gp_lambda=10]])."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


def apply_overrides(overrides: list[Override], cfg: DictConfig) -> None:
    """Set the keys of `overrides` (no group choices) in a composed config, in place, as
    Hydra does after composing the defaults."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)


def run_app(
    args: list[str], task: Callable[[DictConfig], Any], config_dir: str, config_name: str
) -> None:
    """Hydra's app (a run, a sweep, or what a flag such as --cfg asks) over `args`, as
    `@hydra.main` runs it from sys.argv. A run or a sweep skips Hydra's extra composition
    that only looks for `hydra.mode` (gan-cli's configs never set it): the command line
    says which it is."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import (
        _run_app,
        _run_hydra,
        create_config_search_path,
        get_args_parser,
        run_and_report,
    )
    from hydra.core.global_hydra import GlobalHydra
    from hydra.version import setbase

    setbase("1.3")  # what @hydra.main(version_base="1.3") sets
    parser = get_args_parser()
    parsed = parser.parse_args(args)
    asks = any(getattr(parsed, flag) for flag in NOT_A_RUN)
    if asks or parsed.config_name or parsed.config_dir or parsed.config_path:
        _run_hydra(parsed, parser, task, config_dir, config_name)
        return
    search_path = create_config_search_path(config_dir)
    try:
        hydra = run_and_report(lambda: Hydra.create_main_hydra2("train", search_path))
        _run_app(
            run=not parsed.multirun,
            multirun=parsed.multirun,
            mode=None,
            hydra=hydra,
            config_name=config_name,
            task_function=task,
            overrides=list(parsed.overrides),
        )
    finally:
        GlobalHydra.instance().clear()
