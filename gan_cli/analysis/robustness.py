"""The architecture study's table (Gulrajani et al. 2017, Section 5.1): in a sweep over
architectures (model.arch_seed or +arch) and one other key with two values (the
compared one, e.g. loss=vanilla,wgan_gp), the jobs paired by architecture, and at each
threshold of `classes/score` how many architectures succeeded with only one value, with
both, or with neither. A job that failed, diverged or logged no score has not succeeded.

Thresholds are fractions of the real data's own score (`floor/classes/score`): the
paper's 1, 3, 5, 7 and 9 of real 32x32 ImageNet's Inception score of 11.25.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_cli.analysis.sweep_table import write_csv
from gan_cli.core.console import print_table
from gan_cli.core.plotting import pyplot

ARCH_KEYS = ("model.arch_seed", "+arch", "arch")
FRACTIONS = tuple(round(s / 11.25, 3) for s in (1, 3, 5, 7, 9))
SCORE, CEILING = "classes/score", "floor/classes/score"


@dataclass
class Study:
    compared: str  # the key whose two values are compared
    a: str
    b: str
    ceiling: float  # the real data's score
    rows: list[dict[str, Any]]  # one a threshold: threshold, only_<a>, only_<b>, both, neither
    pairs: int


def study(jobs: list[dict[str, Any]], swept: list[str]) -> Study | str | None:
    """The table of a sweep's jobs (summary rows: status, overrides, final metrics);
    None when the sweep is no such study, or a line saying why it cannot be made."""
    arch = [k for k in swept if k in ARCH_KEYS]
    if not arch:
        return None
    values = {k: sorted({str(j.get(k, "")) for j in jobs}) for k in swept if k not in arch}
    compared = [k for k, v in values.items() if len(v) == 2]
    if len(compared) != 1:
        return f"robustness: needs one swept key of two values beside {arch[0]}"
    key = compared[0]
    a, b = values[key]
    ceilings = [c for j in jobs if (c := _number(j.get(CEILING))) is not None and c > 0]
    if not ceilings:
        return f"robustness: no job logged {CEILING} (it needs labelled images)"
    ceiling = max(ceilings)
    pairs: dict[tuple, dict[str, dict]] = {}
    for job in jobs:
        pair = tuple(str(job.get(k, "")) for k in swept if k != key)
        pairs.setdefault(pair, {})[str(job.get(key, ""))] = job
    rows = []
    for fraction in FRACTIONS:
        counts = {f"only_{a}": 0, f"only_{b}": 0, "both": 0, "neither": 0}
        for pair in pairs.values():
            ok_a, ok_b = (succeeded(pair.get(v), fraction * ceiling) for v in (a, b))
            cell = "both" if ok_a and ok_b else "neither" if not (ok_a or ok_b) else None
            counts[cell or (f"only_{a}" if ok_a else f"only_{b}")] += 1
        rows.append({"threshold": fraction, **counts})
    return Study(key, a, b, ceiling, rows, len(pairs))


def succeeded(job: dict[str, Any] | None, threshold: float) -> bool:
    """A job that finished with a finite classes/score of at least `threshold`."""
    if job is None or job.get("status") != "ok":
        return False
    score = _number(job.get(SCORE))
    return score is not None and math.isfinite(score) and score >= threshold


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def write_study(found: Study, sweep_dir: Path) -> list[Path]:
    """robustness.csv and robustness.png, and the table printed."""
    columns = list(found.rows[0])
    title = (
        f"architectures that succeed, {found.pairs} pairs of {found.compared}={found.a} and "
        f"={found.b}; threshold: a fraction of the real data's classes/score {found.ceiling:.3g}"
    )
    print_table(title, columns, [[str(r[c]) for c in columns] for r in found.rows])
    write_csv(found.rows, sweep_dir / "robustness.csv")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bottom = [0] * len(found.rows)
    labels = [str(r["threshold"]) for r in found.rows]
    for column in columns[1:]:
        heights = [r[column] for r in found.rows]
        ax.bar(labels, heights, bottom=bottom, label=column)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_xlabel("min. classes/score, a fraction of the real data's")
    ax.set_ylabel("architectures")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(sweep_dir / "robustness.png")
    plt.close(fig)
    return [sweep_dir / "robustness.csv", sweep_dir / "robustness.png"]
