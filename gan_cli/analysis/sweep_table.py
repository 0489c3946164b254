"""A finished sweep as a table: one row per job (its overrides, status, error and final
metrics, read from its folder's status.json), written as CSV; jobs that differ only in
their seed folded into mean and spread."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path
from typing import Any

import yaml

from gan_cli.core.console import print_table
from gan_cli.metrics import scalar_names


def collect(sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per job folder of the sweep: overrides, status, error, final metrics, folder."""
    rows = []
    for overrides_file in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        job = overrides_file.parent.parent
        overrides = yaml.safe_load(overrides_file.read_text()) or []
        status_file = job / "status.json"
        if status_file.is_file():
            record = json.loads(status_file.read_text())
        else:  # the job died before it could say (killed, or its launcher failed)
            record = {
                "status": "failed",
                "error": "no status.json: the job did not finish",
                "metrics": {},
            }
        row = {"job": job.name, "status": record["status"], "error": record["error"]}
        row |= dict(o.split("=", 1) for o in overrides if "=" in o)
        row |= {k: v for k, v in record["metrics"].items() if isinstance(v, int | float)}
        row["folder"] = str(job)
        rows.append(row)
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return columns


def over_seeds(rows: list[dict], swept: list[str], metrics: list[str], path: Path) -> Path:
    """Jobs that differ only in trainer.seed, as one row: the mean and the standard
    deviation of each final metric over their finished seeds; a table and a CSV."""
    keys = [k for k in swept if k != "trainer.seed"]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(str(row.get(k, "")) for k in keys), []).append(row)
    out, shown = [], []
    for setting, jobs in groups.items():
        ok = [j for j in jobs if j["status"] == "ok"]
        summary = {**dict(zip(keys, setting, strict=True)), "seeds": len(jobs), "ok": len(ok)}
        cells = []
        for metric in metrics:
            values = [v for j in ok if (v := number(j.get(metric))) is not None]
            mean = sum(values) / len(values) if values else float("nan")
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            summary |= {f"{metric}/mean": mean, f"{metric}/std": std}
            cells.append(f"{mean:.4g} ± {std:.2g}" if values else "")
        out.append(summary)
        shown.append([*setting, f"{len(ok)}/{len(jobs)}", *cells])
    print_table("mean ± std over seeds", [*keys, "seeds ok", *metrics], shown)
    write_csv(out, path)
    return path


def number_or_text(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def sweep_metrics() -> list[str]:
    """Final metrics worth plotting against a swept parameter: every registered metric's
    scalars, then the losses (timings are not)."""
    return list(dict.fromkeys([*scalar_names(), "loss/d", "loss/g"]))  # each once


def number(value) -> float | None:
    """A finite-or-not float from a summary cell, or None for text and blanks."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def cell(value: Any) -> str:
    """A table cell as printed."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
