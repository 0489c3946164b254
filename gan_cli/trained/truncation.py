"""The truncation trick's trade-off (gan-sample truncation=PSI,PSI,... metrics=true): the
run's scores at each PSI and untruncated (the row `none`), as a table (truncation.csv,
and the terminal), a figure (truncation.png: each score against PSI, the untruncated
score a dashed line) and metrics.json. Truncated latents lie nearer
the prior's mode: samples look more typical and vary less (BigGAN saw precision rise
and recall fall), and what that costs shows in the scores."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from torch import nn

from gan_cli.core.atomic import atomic_write
from gan_cli.core.console import print_table
from gan_cli.core.plotting import pyplot
from gan_cli.core.values import is_number
from gan_cli.trained.scoring import Scorer

NONE = "none"  # the untruncated row's PSI
CONSTANT = ("truncation", "classifier/accuracy")  # not scores of the samples


def trade_off(scorer: Scorer, G: nn.Module, values: list[float], out: Path) -> list[str]:
    """The scores of G's samples truncated at each of `values` (in increasing order) and
    untruncated, written to `out`; returns the names it wrote, for gan-sample's line."""
    rows = [scorer(G, psi) for psi in sorted(values)]
    untruncated = {**scorer(G), "truncation": NONE}
    keys = sorted(
        k
        for k in {k for row in rows for k, v in row.items() if is_number(v)}
        if k not in CONSTANT and not k.startswith("floor/")  # the data's, the same at each PSI
    )
    table = [*rows, untruncated]
    with atomic_write(out / "truncation.csv", "w") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["truncation", *keys])
        writer.writerows([[row["truncation"], *(row.get(k, "") for k in keys)] for row in table])
    with atomic_write(out / "metrics.json", "w") as f:
        f.write(json.dumps({str(row["truncation"]): row for row in table}, indent=2) + "\n")
    _figure(rows, untruncated, keys, out / "truncation.png")
    cells = [[f"{row['truncation']:g}", *(_cell(row.get(k)) for k in keys)] for row in rows]
    cells.append([NONE, *(_cell(untruncated.get(k)) for k in keys)])
    print_table("truncation: the scores at each PSI", ["truncation", *keys], cells)
    return ["truncation.csv", "truncation.png", f"metrics.json ({len(rows)} values of PSI)"]


def _cell(value: Any) -> str:
    return f"{value:.4g}" if is_number(value) else ""


def _figure(rows: list[dict[str, Any]], untruncated: dict, keys: list[str], path: Path) -> None:
    """Each score against PSI, one panel each (their scales differ), the untruncated
    score a dashed line."""
    plt = pyplot()
    psi = [row["truncation"] for row in rows]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        ax.plot(psi, [row.get(key, float("nan")) for row in rows], marker="o")
        if is_number(untruncated.get(key)):
            ax.axhline(untruncated[key], ls="--", color="grey", lw=1, label="untruncated")
            ax.legend(fontsize=7)
        ax.set_xlabel("truncation (PSI)")
        ax.set_title(key, fontsize=9)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
