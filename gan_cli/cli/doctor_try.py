"""gan-doctor RUN try=true: train the top remedies of a run's first finding, each as a
run of its own under RUN/doctor_try/, for as many steps as the run had, and say which
cured it: the rule no longer fires and the quality measure improved.

Each trial is gan-train with the run's overrides and the remedy's, started as its own
process (so `hydra/launcher=...` among the run's overrides is used as the run used it);
the remedies differ in which keys and groups they change, which one Hydra grid over a
key cannot express."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

from gan_cli.core.console import console, print_table
from gan_cli.core.errors import UserError
from gan_cli.doctor import RULES, Finding, judge
from gan_cli.doctor.report import Diagnosis, load, with_remedy
from gan_cli.doctor.rules import Quality


def try_remedies(d: Diagnosis, n: int, steps: int | None) -> int:
    """Train the first `n` remedies of the run's worst finding; print before and after.
    Returns gan-doctor's exit status: 0 when one remedy cured it, 1 otherwise."""
    if d.problem:
        raise UserError(f"{d.path}: {d.problem}")
    if not d.findings:
        console.print(f"{d.path}: healthy, nothing to try")
        return 0
    finding = d.findings[0]
    steps = steps or d.target
    before = Quality.of(load(d.path))  # the run's quality measure, the trials' yardstick
    rows, cured = [[f"the run ({d.step} steps)", "fires", _last(before), ""]], False
    for i, remedy in enumerate(finding.remedies[:n], 1):
        trial = d.path / "doctor_try" / f"remedy_{i}"
        if trial.exists():  # a trial of an earlier try=true: trained again
            shutil.rmtree(trial)
        overrides = [*with_remedy(d.overrides, remedy), f"trainer.steps={steps}"]
        overrides.append(f"hydra.run.dir={trial}")
        console.print(f"trying {i}/{min(n, len(finding.remedies))}: {' '.join(remedy.overrides)}")
        done = subprocess.run(
            [sys.executable, "-m", "gan_cli.train", *overrides],
            capture_output=True,
            text=True,
            check=False,
        )
        row, fixed = trial_row(trial, finding, " ".join(remedy.overrides), before, done.returncode)
        rows.append(row)
        cured |= fixed
    columns = ["run", finding.rule, before.key if before else "quality", "cured"]
    print_table(f"{finding.rule}: before and after, {steps} steps each", columns, rows)
    return 0 if cured else 1


def trial_row(trial: Path, finding: Finding, label: str, before: Quality | None, code: int):
    """A trial's row and whether it cured the finding: the rule silent, and the quality
    measure better than the run's (where there is one)."""
    if not (trial / "metrics.jsonl").is_file():
        return [label, f"did not run (exit {code})", "", "no"], False
    run = load(trial)
    fires = isinstance(judge(RULES[finding.rule], run), Finding)
    after = Quality.of(run)
    better = _final(after) < _final(before) if before and after else True
    fixed = not fires and better
    return [label, "fires" if fires else "silent", _last(after), "yes" if fixed else "no"], fixed


def _final(q: Quality | None) -> float:
    values = [v for _, v in q.series if math.isfinite(v)] if q else []
    return values[-1] if values else math.inf


def _last(q: Quality | None) -> str:
    return "" if q is None else f"{_final(q):.4g}"
