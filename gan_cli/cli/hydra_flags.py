"""Hydra's command line (its flags: -m, --cfg, --help, ...) as Hydra itself reads it.

Hydra has no public API for its argument parser or for the flag list its help prints, and
gan-train reads its command line before Hydra does (a mistake must leave no run folder).
This module is the one place gan-cli uses Hydra's private modules; hydra-core is pinned
below 1.4 for it, and tests/test_cli.py fails on a Hydra whose parser or help moved.
"""

from __future__ import annotations

import argparse


def parse_args(args: list[str]) -> argparse.Namespace:
    """gan-train's arguments as Hydra parses them: `.overrides`, `.multirun`, `.help`, ..."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser().parse_args(args)


def flags_help() -> str:
    """Hydra's own list of its flags, as its --help shows it."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import get_args_parser

    return Hydra.format_args_help(get_args_parser())
