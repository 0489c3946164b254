"""The figures of a finished sweep: final metrics against the swept parameter
(summary.png), and each job's last sample grid in a table of two swept keys
(samples.png, the WGAN-GP paper's Figure 2)."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from gan_cli.analysis.sweep_table import cell, number, number_or_text, sweep_metrics, write_csv
from gan_cli.core.console import print_table
from gan_cli.core.plotting import pyplot

GRID_SCORES = ("classes/score", "is", "fid/classifier", "fid")  # the first a sweep logged
MAX_SIDE = 12  # rows or columns beyond which a figure of sample grids is not drawn


def sample_grid(
    rows: list[dict], swept: list[str], order: dict[str, list[str]], sweep_dir: Path
) -> list[Path]:
    """samples.png: each job's last sample grid (samples/step_*.png), in a table of the
    sweep's two keys (rows: the first), titled with its score; samples.csv: that score
    in the same table, printed too. Only for a sweep of exactly two keys, with
    at most MAX_SIDE values each; a failed job's cell says so."""
    keys = swept
    grids = {r["job"]: last_grid(Path(r["folder"])) for r in rows}
    if len(keys) != 2 or not any(grids.values()):
        return []
    values = [_values(rows, k, order) for k in keys]
    if max(map(len, values)) > MAX_SIDE:
        return []
    score = next((m for m in GRID_SCORES if any(number(r.get(m)) is not None for r in rows)), None)
    cells = {(str(r.get(keys[0], "")), str(r.get(keys[1], ""))): r for r in rows}
    plt = pyplot()
    fig, axes = plt.subplots(
        len(values[0]),
        len(values[1]),
        figsize=(2.2 * len(values[1]), 2.35 * len(values[0])),
        squeeze=False,
    )
    table = []
    for i, a in enumerate(values[0]):
        line = {keys[0]: a}
        for j, b in enumerate(values[1]):
            ax, row = axes[i][j], cells.get((a, b))
            ax.set_xticks([]), ax.set_yticks([])
            value = None if row is None or score is None else number(row.get(score))
            line[b] = "" if value is None else value
            if row is not None and row["status"] == "ok" and grids[row["job"]]:
                ax.imshow(plt.imread(grids[row["job"]]))
                ax.set_title("" if value is None else f"{score} {value:.3g}", fontsize=7)
            else:
                ax.text(0.5, 0.5, "failed" if row else "no job", ha="center", va="center")
            if i == 0:
                ax.set_xlabel(f"{keys[1]}={b}", fontsize=8)
                ax.xaxis.set_label_position("top")
            if j == 0:
                ax.set_ylabel(f"{keys[0]}={a}", fontsize=8)
        table.append(line)
    fig.tight_layout()
    fig.savefig(sweep_dir / "samples.png", dpi=120)
    plt.close(fig)
    write_csv(table, sweep_dir / "samples.csv")
    print_table(
        f"{score or 'no score'} of each job's last samples ({sweep_dir / 'samples.png'})",
        [keys[0], *values[1]],
        [[cell(line[c]) for c in [keys[0], *values[1]]] for line in table],
    )
    return [sweep_dir / "samples.png", sweep_dir / "samples.csv"]


def last_grid(run_dir: Path) -> Path | None:
    """A run's newest sample figure, or None."""
    return max(run_dir.glob("samples/step_*.png"), default=None)


def _values(rows: list[dict], key: str, order: dict[str, list[str]]) -> list[str]:
    seen = {str(r.get(key, "")) for r in rows}
    listed = [v for v in order.get(key, []) if v in seen]
    return listed + sorted(seen - set(listed), key=number_or_text)


def sweep_plot(rows: list[dict], swept: list[str], path: Path) -> None:
    """Final metrics against the first swept parameter (other than the seed), one panel
    a metric; jobs that differ only in seed are shown as mean and spread (std)."""
    ok = [r for r in rows if r["status"] == "ok"]
    keys = [k for k in swept if k != "trainer.seed"] or ["job"]
    x_key = keys[0]
    metrics = [m for m in sweep_metrics() if any(number(r.get(m)) is not None for r in ok)]
    plt = pyplot()
    n_cols = min(4, max(1, len(metrics)))  # a grid of panels, at most 4 a row
    n_rows = max(1, math.ceil(len(metrics) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.4 * n_cols, 2.9 * n_rows), squeeze=False)
    axes = list(axes.flat)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    xs = sorted({str(r.get(x_key, "")) for r in ok}, key=number_or_text)
    numeric = all(isinstance(number_or_text(x)[1], float) and number_or_text(x)[1] > 0 for x in xs)
    for ax, metric in zip(axes, metrics, strict=False):
        means, spreads = [], []
        for x in xs:
            values = torch.tensor(
                [
                    number(r.get(metric))
                    for r in ok
                    if str(r.get(x_key, "")) == x and number(r.get(metric)) is not None
                ]
            )
            means.append(values.mean().item() if len(values) else float("nan"))
            spreads.append(values.std().item() if len(values) > 1 else 0.0)
        position = [number_or_text(x)[1] for x in xs] if numeric else list(range(len(xs)))
        ax.errorbar(position, means, yerr=spreads, marker="o", capsize=3)
        if numeric:
            ax.set_xscale("log")
        else:
            ax.set_xticks(position, xs, rotation=45, fontsize=7)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel(x_key, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
