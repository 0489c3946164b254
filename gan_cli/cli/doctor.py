"""gan-doctor: what went wrong in a run, the evidence, and the remedies to paste.

    gan-doctor outputs/2026-12-07/10-00-00          # a run: findings worst first, doctor.png
    gan-doctor outputs/multirun/2026-12-07/10-00-00 # a sweep: one line a job, and which
                                                    # swept values failed how
    gan-doctor RUN try=true                         # train the top remedies, before/after
    gan-doctor RUN try=true try.n=2 try.steps=500

Reads the run folder only (metrics.jsonl, config.yaml, .hydra/overrides.yaml,
status.json); no torch, no training, unless try=true. Exit status: 0 healthy,
1 findings, 2 unreadable input. The rules and their thresholds:
docs/reference/doctor.md.
"""

from __future__ import annotations

from gan_cli.core.console import command, console, folders_and_options, print_table
from gan_cli.core.errors import UserError
from gan_cli.doctor import report

OPTIONS = {
    "try": "true|false: train the top remedies of the first finding and compare",
    "try.n": "how many remedies to try (default 3)",
    "try.steps": "generator steps of each trial (default: as many as the run had)",
}


def parse(argv: list[str]) -> tuple[str, dict[str, str]]:
    """The folder and the key=value options; one line for anything else."""
    folders, options = folders_and_options(argv, OPTIONS)
    if len(folders) != 1:
        raise UserError("name one run folder or sweep folder (see gan-doctor --help)")
    if options.get("try", "false") not in ("true", "false"):
        raise UserError(f"try={options['try']}: try is true|false")
    for key in ("try.n", "try.steps"):
        if key in options and not (options[key].isdigit() and int(options[key]) > 0):
            raise UserError(f"{key}={options[key]}: {key} is a positive integer")
    return folders[0], options


def show_run(d: report.Diagnosis, remedies: int = 3) -> None:
    """A run's diagnosis on the console."""
    where = " ".join(d.overrides) or "the default config"
    console.print(f"[bold]{d.path}[/] ({where}), step {d.step} of {d.target}", soft_wrap=True)
    if d.problem:
        console.print(f"  could not diagnose: {d.problem}", soft_wrap=True)
        return
    for i, f in enumerate(d.findings, 1):
        console.print(f"  [bold red]{i}. {f.rule}[/]: {f.title}", soft_wrap=True, highlight=False)
        console.print(f"     since step {f.began}: {f.evidence}", soft_wrap=True, highlight=False)
        console.print(f"     threshold: {f.threshold}", soft_wrap=True, highlight=False)
        for remedy in f.remedies[:remedies]:
            console.print(
                f"     try: {d.command(remedy)}  # {remedy.why}", soft_wrap=True, highlight=False
            )
    if d.ok:
        console.print("  [bold green]healthy[/]: no rule fires", soft_wrap=True)
        for h in d.healthy:
            console.print(f"     {h.rule}: {h.summary}", soft_wrap=True, highlight=False)
    if d.unchecked:
        shown = "; ".join(f"{u.rule} ({u.reason})" for u in d.unchecked)
        console.print(f"  not checked: {shown}", soft_wrap=True, highlight=False)


def show_sweep(diagnoses: list[report.Diagnosis]) -> None:
    """One line a job (its findings, worst first, and since when), then which swept
    values failed how."""
    rows = []
    for d in diagnoses:
        found = ", ".join(f"{f.rule} (step {f.began})" for f in d.findings)
        outcome = d.problem or found or "healthy"
        rows.append([d.path.name, outcome])
    print_table(f"{len(diagnoses)} jobs", ["job", "findings (worst first)"], rows)
    table = report.swept_values(diagnoses)
    if table:
        lines = [
            [value, "; ".join(f"{k} x{len(v)}" for k, v in outcomes.items())]
            for value, outcomes in table.items()
        ]
        print_table("swept values", ["value", "first finding of its jobs"], lines)


def run(argv: list[str]) -> int:
    """Everything gan-doctor does; returns its exit status."""
    folder, options = parse(argv)
    diagnoses = report.diagnose_path(folder)
    if options.get("try") == "true":
        from gan_cli.cli.doctor_try import try_remedies

        if len(diagnoses) != 1:
            raise UserError("try=true takes one run folder, not a sweep")
        n, steps = int(options.get("try.n", 3)), options.get("try.steps")
        return try_remedies(diagnoses[0], n, int(steps) if steps else None)
    if len(diagnoses) == 1:
        d = diagnoses[0]
        show_run(d)
        if d.problem is None:
            from gan_cli.doctor.figure import draw

            if (png := draw(d, report.load(d.path), d.path / "doctor.png")) is not None:
                console.print(f"wrote {png}", soft_wrap=True, highlight=False)
    else:  # one line a job; gan-doctor JOB_FOLDER tells one job's whole story
        show_sweep(diagnoses)
    if all(d.problem for d in diagnoses):
        return 2
    return 0 if all(d.ok for d in diagnoses) else 1


def main() -> None:
    """The `gan-doctor` command."""
    command("gan-doctor", __doc__, run)


if __name__ == "__main__":
    main()
