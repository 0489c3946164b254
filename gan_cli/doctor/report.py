"""A diagnosis of a run folder or a sweep folder: read what the run left (metrics.jsonl,
its config, its overrides, status.json), judge every rule, rank the findings, and turn
each remedy into a command to paste."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gan_cli.core.errors import UserError
from gan_cli.core.records import override_values, read_jsonl, read_overrides
from gan_cli.doctor.base import RULES, Finding, Healthy, Remedy, Scalars, Unchecked, judge

GROUP_NODES = {"loss": ("loss.", "optim."), "model": ("model.",), "data": ("data.",)}


@dataclass
class Diagnosis:
    """What the doctor found in one run: findings worst first, the rules that were
    silent (with their numbers) and those it could not check (with why)."""

    path: Path
    overrides: list[str]
    step: int  # the last logged step
    target: int  # trainer.steps
    findings: list[Finding] = field(default_factory=list)
    healthy: list[Healthy] = field(default_factory=list)
    unchecked: list[Unchecked] = field(default_factory=list)
    problem: str | None = None  # what could not be read at all

    @property
    def ok(self) -> bool:
        return not self.findings

    def command(self, remedy: Remedy) -> str:
        """gan-train with the run's own overrides and the remedy's changes."""
        return "gan-train " + " ".join(shlex.quote(o) for o in with_remedy(self.overrides, remedy))


def is_run(folder: Path) -> bool:
    return (folder / "metrics.jsonl").is_file() or (folder / ".hydra" / "config.yaml").is_file()


def runs_in(folder: Path) -> list[Path]:
    """The run folders of a sweep folder (its job folders), in name order."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and is_run(p))


def load(folder: Path) -> Scalars:
    """A run folder's scalars and config (config.yaml as trained, else Hydra's copy)."""
    config: dict[str, Any] = {}
    for path in (folder / "config.yaml", folder / ".hydra" / "config.yaml"):
        if path.is_file():
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            config = loaded if isinstance(loaded, dict) else {}
            break
    return Scalars(read_jsonl(folder / "metrics.jsonl"), config, stopped_by(folder))


def stopped_by(folder: Path) -> str | None:
    """The error a run stopped with (status.json of a failed run), if any."""
    path = folder / "status.json"
    try:
        status = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        return None
    if status.get("status") == "failed" and status.get("error"):
        return str(status["error"])
    return None


def diagnose_run(folder: Path, scalars: Scalars | None = None) -> Diagnosis:
    """Every rule on one run folder (or on `scalars` read from it already)."""
    run = scalars if scalars is not None else load(folder)
    found = Diagnosis(Path(folder), read_overrides(folder), run.last_step, run.target)
    if not run.records:
        found.problem = "no scalars logged yet (metrics.jsonl is missing or empty)"
        if run.stopped:
            found.problem += f"; it stopped: {run.stopped}"
        return found
    for r in RULES.values():  # in rank order
        verdict = judge(r, run)
        {Finding: found.findings, Healthy: found.healthy, Unchecked: found.unchecked}[
            type(verdict)
        ].append(verdict)
    return found


def diagnose_path(path: str | Path) -> list[Diagnosis]:
    """A run folder's diagnosis, or one per job of a sweep folder; UserError when the
    folder is neither."""
    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"{path}: no such folder (give a run folder or a sweep folder)")
    if is_run(folder):
        return [diagnose_run(folder)]
    jobs = runs_in(folder)
    if not jobs:
        raise UserError(
            f"{path}: not a run folder (metrics.jsonl, .hydra/config.yaml) nor a sweep "
            "folder of runs"
        )
    return [diagnose_run(job) for job in jobs]


def with_remedy(overrides: list[str], remedy: Remedy) -> list[str]:
    """The run's overrides with the remedy's: a key the remedy sets is replaced; a group
    it switches (loss=wgan_gp) drops the run's keys of that group's nodes; hydra's own
    run folder is left out (a new run needs its own)."""
    keys = {o.split("=", 1)[0].lstrip("+~") for o in remedy.overrides}
    dropped: tuple[str, ...] = ()
    for key in keys:
        dropped += GROUP_NODES.get(key, ())
    kept = []
    for o in overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        if key in keys or key.startswith(dropped) or key.startswith("hydra."):
            continue
        kept.append(o)
    return kept + list(remedy.overrides)


def swept_values(diagnoses: list[Diagnosis]) -> dict[str, dict[str, list[str]]]:
    """A sweep's table: {override that differs between jobs: {first finding or
    'healthy': [jobs]}}."""
    parsed = [override_values(d.overrides) for d in diagnoses]
    keys = sorted({k for p in parsed for k in p})
    varying = [k for k in keys if len({p.get(k) for p in parsed}) > 1]
    table: dict[str, dict[str, list[str]]] = {}
    for d, p in zip(diagnoses, parsed, strict=True):
        outcome = d.findings[0].rule if d.findings else ("unreadable" if d.problem else "healthy")
        for k in varying:
            table.setdefault(f"{k}={p.get(k, '(default)')}", {}).setdefault(outcome, []).append(
                d.path.name
            )
    return table


def diagnose(path: str | Path) -> Diagnosis | list[Diagnosis]:
    """What went wrong in a run, as plain objects: `gan_cli.diagnose(RUN)` is the
    Diagnosis of a run folder (`.findings` worst first, each with `.rule`, `.evidence`,
    `.began`, `.values` and `.remedies`, each remedy's `.overrides` and `.why`;
    `.healthy`, `.unchecked`, `.ok`), and of a sweep folder one Diagnosis per job.
    gan-doctor's rules; reads the folder only (no torch). UserError for a folder that is
    neither."""
    found = diagnose_path(path)
    return found[0] if is_run(Path(path)) else found
