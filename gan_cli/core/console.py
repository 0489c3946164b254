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


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A table: drawn with box characters at a terminal; elsewhere (a file, a pipe, a
    SLURM log) as plain text, every column whole and lined up with spaces."""
    if console.is_terminal:
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    lines = [title, *("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                      for line in [columns, *rows])]  # fmt: skip
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def print_summary(metrics: dict[str, float | str], run_dir: Path) -> None:
    rows = [
        [key, f"{value:.6g}" if isinstance(value, float) else str(value)]
        for key, value in sorted(metrics.items())
    ]
    print_table("final metrics", ["metric", "value"], rows)
    console.print(f"run folder: {run_dir}", soft_wrap=True)
    console.print(
        f"samples:    gan-sample checkpoint={shlex.quote(str(run_dir))} n=64", soft_wrap=True
    )
