"""The summary of a sweep (gan-train -m): at the end, the `SweepSummary` callback reads
every job's status.json (gan_cli.cli.sweep) and writes `summary.csv` and `summary.png` in
the sweep folder, prints a table, and sends the same table to W&B in a small summary
run of the group. A sweep over two keys also gets `samples.png`, each job's
last sample grid in a table of the two keys (the WGAN-GP paper's Figure 2), and
`samples.csv`, its score in the same table; a sweep over architectures and two values of
another key gets the robustness table (gan_cli.analysis.robustness).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from gan_cli.analysis import robustness
from gan_cli.analysis.sweep_figures import sample_grid, sweep_plot
from gan_cli.analysis.sweep_table import (
    cell,
    collect,
    number_or_text,
    over_seeds,
    sweep_metrics,
    write_csv,
)
from gan_cli.cli.sweep import group_name
from gan_cli.core.console import console, print_table
from gan_cli.tracking.tracker import wandb_mode


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
        cells = [[str(i), *[cell(row.get(c, "")) for c in shown]] for i, row in enumerate(rows)]
        print_table(f"sweep summary: {sweep_dir}", ["#", *shown], cells)
        written = [sweep_dir / "summary.csv", sweep_dir / "summary.png"]
        if "trainer.seed" in swept:
            written.append(over_seeds(rows, swept, metrics, sweep_dir / "summary_seeds.csv"))
        grid = sample_grid(rows, swept, swept_values(config, swept), sweep_dir)
        written += grid
        found = robustness.study(rows, swept)
        if isinstance(found, str):
            console.print(found, soft_wrap=True, highlight=False)
        elif found is not None:
            written += robustness.write_study(found, sweep_dir)
        console.print("summary: " + ", ".join(map(str, written)), soft_wrap=True)
        for row in rows:
            if row["status"] != "ok":
                label = "stopped" if row["status"] == "stopped" else "[red]failed:[/]"
                console.print(f"{label} {row['job']}: {row['error']}", highlight=False)
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
