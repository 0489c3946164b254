"""gan-plot: runs side by side from their folders, offline.

    gan-plot outputs/multirun/2026-12-06/10-00-00 metric=wasserstein/exact   # a sweep's runs
    gan-plot runs/a runs/b metric=fid/classifier,prdc/recall out=paper/fig3
    gan-plot runs/toy timelapse=true                  # runs/toy/timelapse.gif

Curves of the scalars `metric` (a comma list; default: the first the runs log of
wasserstein/exact, fid/classifier, modes/captured, loss/d) against the step, read from
each run's metrics.jsonl: one line per setting, labelled by the overrides in which the
runs differ; runs that differ only in trainer.seed are one line, their mean, with one
standard deviation shaded either side. Written as OUT.png and OUT.pdf (default: plot.png
and plot.pdf in the first folder given). With timelapse=true, each run's sample plots
(samples/step_*.png) as an animated GIF in step order, the step written on each frame
(default: timelapse.gif in the run folder).
"""

from __future__ import annotations

from pathlib import Path

from gan_cli.core.console import command, console, folders_and_options
from gan_cli.core.errors import UserError

OPTIONS = {
    "metric": "scalar names, comma separated (metric=fid/classifier,modes/captured)",
    "out": "a file path without suffix, or ending in .png (.pdf) or .gif (timelapse)",
    "timelapse": "true|false",
}


def parse(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Folders (arguments without '=') and key=value options; one line for anything else."""
    folders, options = folders_and_options(argv, OPTIONS)
    if not folders:
        raise UserError("name at least one run folder or sweep folder (see gan-plot --help)")
    if options.get("timelapse", "false") not in ("true", "false"):
        raise UserError(f"timelapse={options['timelapse']}: timelapse is true|false")
    return folders, options


def run(argv: list[str]) -> list[str]:
    """Everything gan-plot does; returns what it wrote."""
    from gan_cli.analysis import curves

    folders, options = parse(argv)
    runs = curves.run_folders(folders)
    out = options.get("out")
    if options.get("timelapse") == "true":
        if out and len(runs) > 1:
            raise UserError("timelapse=true with out= takes one run folder")
        written = []
        for r in runs:
            gif, frames = curves.timelapse(r, _gif(out) if out else r / "timelapse.gif")
            written.append(f"{gif} ({frames} frames)")
        return written
    asked = [m for m in options.get("metric", "").split(",") if m] or None
    metrics = curves.pick_metrics(runs, asked)
    stem = Path(out).with_suffix("") if out else Path(folders[0]) / "plot"
    paths = curves.draw_curves(curves.settings(runs), metrics, stem)
    return [str(p) for p in paths]


def _gif(out: str) -> Path:
    """A timelapse's file: `out` as given when it ends in .gif, else with .gif added
    (out=NAME, out=NAME.png: NAME.gif, NAME.png.gif; the GIF is what it writes)."""
    path = Path(out)
    return path if path.suffix.lower() == ".gif" else path.with_name(path.name + ".gif")


def main() -> None:
    """The `gan-plot` command."""

    def body(argv: list[str]) -> int:
        wrote = run(argv)
        console.print("gan-plot: wrote " + ", ".join(wrote), soft_wrap=True, highlight=False)
        return 0

    command("gan-plot", __doc__, body)


if __name__ == "__main__":
    main()
