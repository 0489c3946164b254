"""The doctor during training: after each evaluation the rules (gan_cli.doctor) read the
scalars logged so far. The first time a rule fires, one line names the failure, its
evidence and the remedy as a command to paste, in the console, train.log and a W&B
alert; it is said again only after it cleared. A rule in doctor.stop that keeps firing
for doctor.patience evaluations ends the run early, with its checkpoint."""

from __future__ import annotations

import logging
import shlex

from gan_cli.core.records import read_jsonl, read_overrides
from gan_cli.doctor import RULES, Finding, Healthy, Scalars, judge
from gan_cli.doctor.report import with_remedy

log = logging.getLogger(__name__)


class Watch:
    """The rules' view of a run in progress: its records so far, which findings were said
    (and not cleared since), and how long each stop rule has fired."""

    def __init__(self, run) -> None:
        settings = run.cfg.doctor
        self.run = run
        # under torchrun the other ranks cannot see rank 0's verdict without a collective
        # each step: the findings are said, and the run goes on
        self.stop_rules = [] if run.world.active else list(settings.stop)
        self.patience = settings.patience
        self.records = read_jsonl(run.run_dir / "metrics.jsonl")  # a resumed run's so far
        self.active: set[str] = set()  # rules said and not cleared since
        self.streak: dict[str, int] = {}  # consecutive evaluations each stop rule fired
        self.overrides = read_overrides(run.run_dir)

    def add(self, step: int, record: dict) -> None:
        """One logged step's scalars."""
        self.records.append({"step": step, **record})

    def check(self) -> str | None:
        """Judge every rule; say the new findings; the reason to stop, if a stop rule
        persisted for `patience` evaluations, else None."""
        scalars = Scalars(self.records, self.run.config)
        reason = None
        for rule in RULES.values():
            verdict = judge(rule, scalars)
            if isinstance(verdict, Finding):
                if rule.name not in self.active:
                    self.active.add(rule.name)
                    self.say(verdict)
                self.streak[rule.name] = self.streak.get(rule.name, 0) + 1
                if rule.name in self.stop_rules and self.streak[rule.name] >= self.patience:
                    reason = reason or f"{rule.name} since step {verdict.began} (doctor.stop)"
            else:
                if isinstance(verdict, Healthy):
                    self.active.discard(rule.name)
                self.streak[rule.name] = 0
        return reason

    def say(self, f: Finding) -> None:
        remedy = f.remedies[0] if f.remedies else None
        command = ""
        if remedy is not None:
            args = with_remedy(self.overrides, remedy)
            command = "; try: gan-train " + " ".join(shlex.quote(a) for a in args)
        line = f"doctor: {f.rule} ({f.title}) since step {f.began}: {f.evidence}{command}"
        log.warning("%s", line)  # Hydra's job logging: the console and train.log
        self.run.tracker.alert(
            f"gan-doctor: {f.rule}",
            line,
            {f"doctor/{f.rule}": f"since step {f.began}: {f.evidence}"},
        )
