"""What the user sees in the terminal: a live progress bar and a closing summary."""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def progress_bar(visible: bool = True) -> Progress:
    return Progress(
        TextColumn("[bold]gan-train"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[stats]}"),
        console=console,
        disable=not visible,
    )


def live_stats(metrics: dict[str, float], keys: list[str]) -> str:
    """The latest value of each of `keys` (the losses, the training estimate, and the
    `live` scalars of the run's registered metrics), for the progress bar."""
    return "  ".join(f"{k} {metrics[k]:.4g}" for k in keys if k in metrics)


def print_summary(metrics: dict[str, float | str], run_dir: Path) -> None:
    table = Table(title="final metrics", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in sorted(metrics):
        value = metrics[key]
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"run folder: {run_dir}", soft_wrap=True)
    console.print(
        f"samples:    gan-sample checkpoint={shlex.quote(str(run_dir))} n=64", soft_wrap=True
    )
