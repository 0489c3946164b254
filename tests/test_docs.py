"""The README and ARCHITECTURE.md say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from gan_cli import metrics

ROOT = Path(__file__).parents[1]


def test_the_readme_lists_every_registered_metric_and_scalar():
    readme = (ROOT / "README.md").read_text()
    lines = readme[readme.index("| metric (`metrics.eval`) |") :].splitlines()
    table = lines[2 : next(i for i, line in enumerate(lines) if not line.startswith("|"))]
    rows = {line.split("|")[1].strip(" `"): line for line in table}
    for name, metric in metrics.REGISTRY.items():
        assert name in rows, name
        for key in metric.keys:
            assert f"`{key}`" in rows[name], (name, key)
            assert f"| `{key}`" in readme or f", `{key}`" in readme, key  # in the scalars table


def test_every_file_architecture_md_names_exists():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    for path in re.findall(r"`((?:gan_cli|conf|tests)/[\w/.]+)`", text):
        assert (ROOT / path).exists(), path
