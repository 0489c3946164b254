"""What a rule is, what it reads and what it says: the doctor's registry and its
plain result objects. Pure Python on a run's logged scalars: no torch, no numpy.

A rule reads a `Scalars` view of a run (its metrics.jsonl rows and its config) and
gives, for each point of the series it judges, whether the failure shows there
(`Point`), or the reason it cannot judge this run. `judge` turns those points into a
verdict: the failure is found when it shows at the run's latest `persist` points, and it
began where that last stretch began. So a rule that cleared is silent, and one that
comes back is found again.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gan_cli.core.values import is_number


@dataclass(frozen=True)
class Remedy:
    """A change that treats a failure: config overrides, best first, and why."""

    overrides: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Point:
    """One point of a rule's series: the step, whether the failure shows there, and the
    values it read (named as the scalars are)."""

    step: int
    fires: bool
    values: dict[str, float]


@dataclass
class Finding:
    """A failure found in a run: which rule, since when, the evidence in words and
    numbers, the threshold it crossed, and the remedies, best first."""

    rule: str
    title: str
    began: int  # the first step of the stretch that still shows it
    step: int  # the latest step that shows it
    evidence: str
    values: dict[str, float]
    threshold: str
    remedies: list[Remedy]
    plot: tuple[str, ...] = ()  # the scalars behind it, for doctor.png
    lines: dict[str, float] = field(default_factory=dict)  # scalar -> its threshold line


@dataclass
class Unchecked:
    """A rule that cannot be checked on this run, and why (it never guesses)."""

    rule: str
    reason: str


@dataclass
class Healthy:
    """A rule checked and silent, with the numbers that show it."""

    rule: str
    summary: str


Verdict = Finding | Unchecked | Healthy


class Scalars:
    """A run's logged scalars and its config, as a rule reads them."""

    def __init__(
        self, records: list[dict[str, Any]], config: dict[str, Any], stopped: str | None = None
    ) -> None:
        self.records = records
        self.config = config
        self.stopped = stopped  # why the run stopped early (its error line), if it did

    def series(self, key: str) -> list[tuple[int, float]]:
        """(step, value) of every record that logs `key` with a number (non-finite
        values included: a rule may look for them)."""
        return [(int(r["step"]), float(r[key])) for r in self.records if is_number(r.get(key))]

    def has(self, key: str) -> bool:
        return any(key in r for r in self.records)

    def get(self, dotted: str, default: Any = None) -> Any:
        """A config value by its dotted key (`loss.clip`); `default` when absent."""
        node: Any = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def target(self) -> int:
        """The last step the run was to reach (trainer.steps), or its last logged step."""
        last = self.records[-1]["step"] if self.records else 0
        return int(self.get("trainer.steps", last) or last)

    @property
    def last_step(self) -> int:
        return int(self.records[-1]["step"]) if self.records else 0


@dataclass(frozen=True)
class Rule:
    name: str
    title: str  # the failure, in words
    reads: tuple[str, ...]  # the scalars (and config keys) it reads
    threshold: str  # its threshold, in words
    why: str  # where the threshold comes from: a paper or a measurement
    check: Callable[[Scalars], list[Point] | str]  # its points, or why it cannot check
    evidence: Callable[[Point, Scalars], str]
    remedies: Callable[[Scalars], list[Remedy]]
    summary: Callable[[list[Point]], str]  # the numbers of a healthy run
    persist: int = 2  # latest points that must show the failure
    plot: tuple[str, ...] = ()
    lines: dict[str, float] = field(default_factory=dict)


# name -> Rule, in the order findings are ranked when several show (causes before the
# symptoms they bring: a clip too tight also stalls progress); filled by @rule
RULES: dict[str, Rule] = {}


def rule(name: str, **kwargs: Any) -> Callable[[Callable], Callable]:
    """Register `check` (Scalars -> its points, or the reason it cannot check them) as
    the rule `name`."""

    def add(check: Callable) -> Callable:
        RULES[name] = Rule(name=name, check=check, **kwargs)
        return check

    return add


def judge(r: Rule, run: Scalars) -> Verdict:
    """The rule's verdict on a run: found at its latest points, else healthy."""
    points = r.check(run)
    if isinstance(points, str):
        return Unchecked(r.name, points)
    if not points:
        return Unchecked(r.name, f"nothing to read yet ({', '.join(r.reads)} not logged)")
    need = min(r.persist, len(points))
    if not all(p.fires for p in points[-need:]):
        return Healthy(r.name, r.summary(points))
    start = len(points) - need
    while start > 0 and points[start - 1].fires:
        start -= 1
    last = points[-1]
    return Finding(
        rule=r.name,
        title=r.title,
        began=points[start].step,
        step=last.step,
        evidence=r.evidence(last, run),
        values=last.values,
        threshold=r.threshold,
        remedies=r.remedies(run),
        plot=r.plot,
        lines=dict(r.lines),
    )


def finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def at(series: list[tuple[int, float]], step: int) -> float | None:
    """The series' latest value at or before `step` (the series in step order, as a run
    logs it); None if it has none yet. A binary search: rules ask this at every point."""
    i = bisect.bisect_right(series, step, key=lambda point: point[0])
    return series[i - 1][1] if i else None


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return math.nan
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
