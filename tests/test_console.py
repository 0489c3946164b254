"""What the terminal shows: gan-train's bar at any width, plain lines without a terminal,
and the progress of long phases."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from gan_cli.core import console as terminal
from gan_cli.core.console import TrainingProgress, phase

STATS = "  ".join(f"metric/number_{i} {i * 1.2345:.4g}" for i in range(14))


def _screen(renderable, width: int) -> list[str]:
    out = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
    out.print(renderable)
    return out.file.getvalue().splitlines()


@pytest.fixture
def at_terminal(monkeypatch):
    monkeypatch.setattr(terminal, "console", Console(file=io.StringIO(), force_terminal=True))


@pytest.fixture
def in_a_file(monkeypatch):
    out = Console(file=io.StringIO(), force_terminal=False, width=80)
    monkeypatch.setattr(terminal, "console", out)
    return out.file


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_the_bar_keeps_its_step_rate_and_eta_at_any_width(width, at_terminal):
    bar = TrainingProgress(1, 100000, every=250)
    bar.update(bar.task, completed=12345)
    bar.show(STATS)  # many metrics: they go beneath the bar, folded
    first, *rest = _screen(bar.get_renderable(), width)
    assert first.startswith("gan-train ")
    assert first.rstrip().endswith("12345/100000 - steps/s 0:00:00 -:--:--")
    assert "metric/number_13 16.05" in " ".join(rest)
    assert all(len(line) <= width for line in [first, *rest])


def test_without_a_terminal_a_line_every_n_steps_and_at_the_last(in_a_file):
    bar = TrainingProgress(1, 70, every=25)
    with bar:
        for step in range(1, 71):
            if step == 30:
                bar.show("loss/d 1.5  loss/g 0.25")
                bar.note("step 30 evaluated in 0.1 s: modes/captured 8")
            bar.step(step)
    lines = in_a_file.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == [
        "step 25/70",
        "step 30 evaluated in 0.1 s: modes/captured 8",
        "step 50/70",
        "step 70/70",
    ]
    assert lines[2].endswith("loss/d 1.5  loss/g 0.25")  # the latest scalars, once set
    assert all(" steps/s  elapsed " in line and "  left " in line for line in lines[2:])
    assert "━" not in in_a_file.getvalue()


def test_a_rank_that_does_not_show_progress_prints_nothing(in_a_file):
    bar = TrainingProgress(1, 10, every=1, visible=False)
    with bar:
        for step in range(1, 11):
            bar.step(step)
        bar.note("nothing")
    assert in_a_file.getvalue() == ""


def test_a_phase_without_a_terminal_says_nothing_when_quick(in_a_file):
    with phase("reading images", 300, "images") as done:
        for _ in range(300):
            done(1)
    assert in_a_file.getvalue() == ""


def test_a_long_phase_without_a_terminal_is_a_line_now_and_then(in_a_file, monkeypatch):
    clock = iter(range(0, 10_000, 1))  # one second an item
    monkeypatch.setattr(terminal, "_now", lambda: next(clock))
    with phase("domain classifier", 100, "steps") as done:
        for _ in range(100):
            done(1)
    lines = in_a_file.getvalue().splitlines()
    assert lines[0] == "domain classifier: 2/100 steps, 1 steps/s, about 0:01:38 left"
    assert [line.split(",")[0] for line in lines[1:-1]] == [
        "domain classifier: 32/100 steps",
        "domain classifier: 62/100 steps",
        "domain classifier: 92/100 steps",
    ]
    assert lines[-1] == "domain classifier: 100 steps in 101.0 s"


def test_a_phase_at_a_terminal_is_a_bar_that_goes_when_done(at_terminal):
    with phase("FID features", 1000, "images") as done:
        for _ in range(4):
            done(250)
    screen = terminal.console.file.getvalue()
    assert "FID features" in screen and "1000/1000" in screen  # its last frame
    assert not terminal.console._live_stack  # and the bar is gone
