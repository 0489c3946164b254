"""The summary of a sweep (gan-train -m): at the end, the `SweepSummary` callback reads
every job's status.json (gan_cli.cli.sweep) and writes `summary.csv` and `summary.png` in
the sweep folder, prints a table, and sends the same table to W&B in a small summary
run of the group. A sweep over two keys also gets `samples.png`, each job's
last sample grid in a table of the two keys (the WGAN-GP paper's Figure 2), and
`samples.csv`, its score in the same table; a sweep over architectures and two values of
another key gets the robustness table (gan_cli.cli.robustness).
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path
from typing import Any

import torch
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from gan_cli.cli import robustness
from gan_cli.cli.sweep import FAILED, group_name
from gan_cli.core.console import console, print_table
from gan_cli.metrics import scalar_names
from gan_cli.training.figures import pyplot
from gan_cli.training.tracking import wandb_mode


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


def swept_keys(config: DictConfig) -> list[str]:
    """The keys the sweep varies: command-line sweeps and hydra.sweeper.params."""
    keys = [o.split("=", 1)[0] for o in config.hydra.overrides.task if "," in o.split("=", 1)[-1]]
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    return [*keys, *[k for k in params if k not in keys]]


class SweepSummary(Callback):
    """At the end of a sweep: summary.csv, summary.png, a console table, a W&B table."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        swept = swept_keys(config)
        # in the order of the swept values, numbers as numbers (0.1 < 1 < 10)
        rows = sorted(
            collect(sweep_dir),
            key=lambda r: [number_or_text(str(r.get(k, ""))) for k in swept],
        )
        if not rows:
            return
        columns = write_csv(rows, sweep_dir / "summary.csv")
        sweep_plot(rows, swept, sweep_dir / "summary.png")
        metrics = [m for m in sweep_metrics() if m in columns]
        shown = ["status", *swept, *metrics]
        cells = [[str(i), *[_cell(row.get(c, "")) for c in shown]] for i, row in enumerate(rows)]
        print_table(f"sweep summary: {sweep_dir}", ["#", *shown], cells)
        written = [sweep_dir / "summary.csv", sweep_dir / "summary.png"]
        if "trainer.seed" in swept:
            written.append(_over_seeds(rows, swept, metrics, sweep_dir / "summary_seeds.csv"))
        grid = sample_grid(rows, swept, swept_values(config, swept), sweep_dir)
        written += grid
        found = robustness.study(rows, swept)
        if isinstance(found, str):
            console.print(found, soft_wrap=True, highlight=False)
        elif found is not None:
            written += _robustness(found, sweep_dir)
        console.print("summary: " + ", ".join(map(str, written)), soft_wrap=True)
        FAILED[:] = [row["job"] for row in rows if row["status"] != "ok"]
        for row in rows:
            if row["status"] != "ok":
                console.print(f"[red]failed:[/] {row['job']}: {row['error']}", highlight=False)
        _wandb_summary(config, rows, columns, None if isinstance(found, str) else found, grid)


def swept_values(config: DictConfig, swept: list[str]) -> dict[str, list[str]]:
    """Each swept key's values in the order the sweep lists them (a comma list on the
    command line or in hydra.sweeper.params); a key given another way (range(...)) is
    left out, and its values are sorted where needed."""
    given = dict(o.split("=", 1) for o in config.hydra.overrides.task if "=" in o)
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    out = {}
    for key in swept:
        text = str(given.get(key, params.get(key, "")))
        if "," in text and "(" not in text:
            out[key] = [v.strip() for v in text.split(",")]
    return out


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
        [[_cell(line[c]) for c in [keys[0], *values[1]]] for line in table],
    )
    return [sweep_dir / "samples.png", sweep_dir / "samples.csv"]


def last_grid(run_dir: Path) -> Path | None:
    """A run's newest sample figure, or None."""
    return max(run_dir.glob("samples/step_*.png"), default=None)


def _values(rows: list[dict], key: str, order: dict[str, list[str]]) -> list[str]:
    seen = {str(r.get(key, "")) for r in rows}
    listed = [v for v in order.get(key, []) if v in seen]
    return listed + sorted(seen - set(listed), key=number_or_text)


def _robustness(found: robustness.Study, sweep_dir: Path) -> list[Path]:
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


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _over_seeds(rows: list[dict], swept: list[str], metrics: list[str], path: Path) -> Path:
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


def _wandb_summary(
    config: DictConfig,
    rows: list[dict[str, Any]],
    columns: list[str],
    study: robustness.Study | None = None,
    grid: list[Path] = (),
) -> None:
    """The summary table (and the architecture study's, with its figure; the figure of
    sample grids and its scores), in a small W&B run of the sweep's group."""
    logger = OmegaConf.to_container(config.logger, resolve=True)
    mode = wandb_mode(logger.get("mode"))
    if mode == "disabled":
        return
    import wandb

    sweep_dir = Path(config.hydra.sweep.dir)
    run = wandb.init(
        project=logger.get("project"),
        entity=logger.get("entity"),
        group=logger.get("group") or group_name(sweep_dir),
        name="summary",
        job_type="sweep-summary",
        mode=mode,
        dir=str(sweep_dir),
        settings=wandb.Settings(console="off", quiet=True),
    )
    try:
        data = [[_plain(row.get(c)) for c in columns] for row in rows]
        tables = {"summary": wandb.Table(columns=columns, data=data)}
        if study is not None:
            study_columns = list(study.rows[0])
            cells = [[r[c] for c in study_columns] for r in study.rows]
            tables["robustness"] = wandb.Table(columns=study_columns, data=cells)
            tables["robustness_figure"] = wandb.Image(str(sweep_dir / "robustness.png"))
        if grid:
            with open(sweep_dir / "samples.csv", newline="") as f:
                scores = list(csv.reader(f))
            tables["samples"] = wandb.Image(str(sweep_dir / "samples.png"))
            tables["samples_scores"] = wandb.Table(columns=scores[0], data=scores[1:])
        run.log(tables)
    finally:
        run.finish()


def _plain(value: Any) -> Any:
    return "" if value is None else value


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
