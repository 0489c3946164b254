"""What the user sees in the terminal: progress while it works, and a closing summary.

At a terminal, progress is a live bar: gan-train's (the step count, the rate and the
time left always in view, the latest scalars on a line of their own beneath it) and one
for each phase that takes a while (the domain classifier's training, image features for
FID, gan-sample's images). Elsewhere (a file, a pipe, CI, a SLURM log) it is plain lines:
a line every few steps, and for a phase that lasts, a line now and then and one at its end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

console = Console()
err_console = Console(stderr=True)


class _Rate(ProgressColumn):
    """Steps (or items) per second, over rich's last 30 s."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        return Text(_per_s(task, self.unit))


def _per_s(task: Task, unit: str) -> str:
    """A task's rate; '- steps/s' before rich has a measure."""
    return _rate(task.finished_speed or task.speed, unit)


def _rate(speed: float | None, unit: str) -> str:
    """'12.3 steps/s', '29,400 images/s'."""
    if not speed:
        return f"- {unit}/s"
    return f"{speed:,.0f} {unit}/s" if speed >= 100 else f"{speed:.3g} {unit}/s"


def _columns(name: str, unit: str) -> tuple[ProgressColumn, ...]:
    return (
        TextColumn(f"[bold]{name}"),
        BarColumn(bar_width=40),
        MofNCompleteColumn(),
        _Rate(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def _clock(seconds: float | None) -> str:
    return "-:--:--" if seconds is None else str(timedelta(seconds=int(seconds)))


class TrainingProgress(Progress):
    """gan-train's progress over steps `first`..`last`: at a terminal a bar whose step
    count, rate and time left stay in view at any width (the scalars go on the line
    beneath it, folded); elsewhere a line every `every` steps and at the last. `note`
    prints a line that stays (an evaluation's results) in both."""

    def __init__(self, first: int, last: int, every: int, visible: bool = True) -> None:
        self.live_bar = visible and console.is_terminal
        self.lines = visible and not console.is_terminal
        self.last, self.every, self.stats = last, max(1, every), ""
        columns = _columns("gan-train", "steps")
        super().__init__(*columns, console=console, disable=not self.live_bar)
        self.task = self.add_task("train", total=last, completed=first - 1)

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        if self.stats:
            yield Text(self.stats, overflow="fold", style="dim")

    def show(self, stats: str) -> None:
        """The latest scalars, beneath the bar (and on the next progress line)."""
        self.stats = stats
        self.refresh() if self.live_bar else None

    def step(self, step: int) -> None:
        """Step `step` is done."""
        self.update(self.task, completed=step)
        if self.lines and (step % self.every == 0 or step == self.last):
            self._print(self.status(step))

    def status(self, step: int) -> str:
        """'step 250/1000  12.3 steps/s  elapsed 0:00:20  left 0:01:01  loss/d ...'"""
        task = self.tasks[0]
        parts = [
            f"step {step}/{self.last}",
            _per_s(task, "steps"),
            f"elapsed {_clock(task.elapsed)}",
        ]
        parts += [f"left {_clock(task.time_remaining)}", self.stats]
        return "  ".join(p for p in parts if p)

    def note(self, text: str) -> None:
        """A line that stays: above the bar at a terminal, in the log's lines elsewhere."""
        if self.live_bar or self.lines:
            self._print(text)

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def phase(name: str, total: int, unit: str = "items") -> Iterator[Callable[[int], None]]:
    """Progress of a phase that may take a while (`name`, `total` items): a bar of its
    own at a terminal (beneath gan-train's, gone when done); elsewhere nothing if it ends
    within QUIET_S, else a line then and every EVERY_S, and one as it ends. Yields
    `done(n)`, to call as items are done."""
    if console.is_terminal:
        with Progress(*_columns(name, unit), console=console, transient=True) as bar:
            task = bar.add_task(name, total=total)
            yield lambda n=1: bar.advance(task, n)
        return
    lines = _PhaseLines(name, total, unit)
    yield lines.done
    lines.end()


QUIET_S, EVERY_S = 2.0, 30.0
_now = time.monotonic


class _PhaseLines:
    """A phase's progress as plain lines: 'FID features: 2500/20000 images, 310 images/s,
    about 0:00:56 left', from its QUIET_S-th second on."""

    def __init__(self, name: str, total: int, unit: str) -> None:
        self.name, self.total, self.unit = name, total, unit
        self.start, self.said, self.count = _now(), None, 0

    def done(self, n: int = 1) -> None:
        self.count += n
        now = _now()
        if now - (self.said or self.start) >= (EVERY_S if self.said else QUIET_S):
            self.said = now
            rate = self.count / (now - self.start)
            left = _clock((self.total - self.count) / rate if rate > 0 else None)
            self._print(
                f"{self.name}: {self.count}/{self.total} {self.unit}, "
                f"{_rate(rate, self.unit)}, about {left} left"
            )

    def end(self) -> None:
        if self.said is not None:
            seconds = _now() - self.start
            self._print(f"{self.name}: {self.count} {self.unit} in {seconds:.1f} s")

    @staticmethod
    def _print(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)


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


def fail(name: str, error: Exception | str, code: int = 2) -> NoReturn:
    """A command's one line for a mistake (`gan-train: error: ...`) and its exit status."""
    import sys

    from rich.markup import escape

    # the message is text: "[video]" in it is not a style
    err_console.print(
        f"[bold red]{name}: error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
    )
    sys.exit(code)


def command(name: str, doc: str, body: Callable[[list[str]], int]) -> None:
    """A small command's life (gan-plot, gan-data, gan-doctor): its help text for no
    arguments (exit 2) or -h/--help (exit 0); else `body(argv)`'s exit status, or for a
    UserError its one line `NAME: error: ...` and exit status 2."""
    import sys

    from gan_cli.core.errors import UserError

    argv = sys.argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(doc)
        sys.exit(0 if argv else 2)
    try:
        code = body(argv)
    except UserError as e:
        fail(name, e)
    sys.exit(code)


def folders_and_options(argv: list[str], known: dict[str, str]) -> tuple[list[str], dict]:
    """A folder command's arguments (gan-plot, gan-doctor): folders (arguments without
    '=', or that exist: a sweep job's folder name holds '=') and key=value options of
    `known`; UserError naming the options for any other key."""
    from pathlib import Path

    from gan_cli.core.errors import UserError

    folders, options = [], {}
    for arg in argv:
        if "=" not in arg or Path(arg).exists():
            folders.append(arg)
            continue
        key, value = arg.split("=", 1)
        if key not in known:
            raise UserError(f"unknown option {key!r}; options: {'|'.join(known)}")
        options[key] = value
    return folders, options
