"""What a run folder records, read back without torch: its metrics.jsonl and the
overrides Hydra kept of its command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl; a last line cut short by a crash is dropped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def read_overrides(run: Path) -> list[str]:
    """A run's command-line overrides, as typed (.hydra/overrides.yaml); [] if none."""
    path = Path(run) / ".hydra" / "overrides.yaml"
    lines = yaml.safe_load(path.read_text()) if path.is_file() else []
    return [str(o) for o in lines or []]


def override_values(overrides: list[str]) -> dict[str, str]:
    """Overrides as key -> value (`+key` as key), less Hydra's own and deletions."""
    keep = (o for o in overrides if "=" in o and not o.startswith(("hydra.", "~")))
    return dict(o.lstrip("+").split("=", 1) for o in keep)
