"""Runs side by side, offline (gan-plot): curves of chosen scalars from the runs'
metrics.jsonl against the step, one line per setting (the mean over seeds with its
spread where runs differ only by trainer.seed), as PNG and PDF; and a run's sample plots
as an animated GIF in step order, the step written on each frame.

Reads only the run folders (metrics.jsonl, .hydra/overrides.yaml, samples/): no torch.
"""

from __future__ import annotations

import math
from pathlib import Path

from gan_cli.core.errors import UserError
from gan_cli.core.plotting import pyplot
from gan_cli.core.records import override_values, read_jsonl, read_overrides
from gan_cli.core.values import is_number

SEED = "trainer.seed"
DEFAULT_METRICS = ("wasserstein/exact", "fid/classifier", "modes/captured", "loss/d")


def run_folders(paths: list[str]) -> list[Path]:
    """Run folders (holding metrics.jsonl) from run folders and sweep folders."""
    runs: list[Path] = []
    for given in paths:
        p = Path(given)
        if (p / "metrics.jsonl").is_file():
            runs.append(p)
        elif p.is_dir() and (jobs := sorted(m.parent for m in p.glob("*/metrics.jsonl"))):
            runs += jobs
        else:
            raise UserError(f"{given}: not a run folder (metrics.jsonl) nor a sweep folder of runs")
    return runs


def overrides(run: Path) -> dict[str, str]:
    """A run's command-line overrides (key -> value), from Hydra's record of them."""
    return override_values(read_overrides(run))


def settings(runs: list[Path]) -> dict[str, list[Path]]:
    """The runs by setting, its label: the overrides in which runs differ, less the seed
    (the folder's name where they differ in nothing else)."""
    every = {run: overrides(run) for run in runs}
    keys = sorted({k for o in every.values() for k in o})
    differing = [k for k in keys if k != SEED and len({o.get(k) for o in every.values()}) > 1]
    seeded = len({o.get(SEED) for o in every.values()}) > 1
    groups: dict[str, list[Path]] = {}
    for run, o in every.items():
        label = ", ".join(f"{k}={o.get(k, '')}" for k in differing)
        groups.setdefault(label or ("all runs" if seeded else run.name), []).append(run)
    return groups


def series(run: Path, metric: str) -> dict[int, float]:
    """A scalar's values by step in a run's metrics.jsonl (a cut last line dropped)."""
    out = {}
    for row in read_jsonl(run / "metrics.jsonl"):
        value = row.get(metric)
        if is_number(value):
            out[row["step"]] = float(value)
    return out


def pick_metrics(runs: list[Path], asked: list[str] | None) -> list[str]:
    """The scalars to draw: those asked for (each must be in some run), else the first of
    DEFAULT_METRICS the runs log."""
    logged = {k for run in runs for row in read_jsonl(run / "metrics.jsonl") for k in row}
    if asked:
        missing = [m for m in asked if m not in logged]
        if missing:
            shown = "|".join(sorted(k for k in logged if k != "step"))
            raise UserError(f"metric={missing[0]} is in no run's metrics.jsonl; they log {shown}")
        return asked
    return [next((m for m in DEFAULT_METRICS if m in logged), "loss/d")]


def curve(runs: list[Path], metric: str) -> tuple[list[int], list[float], list[float]]:
    """A scalar over the steps all `runs` logged it at: its mean and its standard
    deviation (n - 1; zero for one run)."""
    curves = [series(run, metric) for run in runs]
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    n = len(curves)
    mean = [sum(c[s] for c in curves) / n for s in steps]
    std = [
        math.sqrt(sum((c[s] - m) ** 2 for c in curves) / (n - 1)) if n > 1 else 0.0
        for s, m in zip(steps, mean, strict=True)
    ]
    return steps, mean, std


def draw_curves(groups: dict[str, list[Path]], metrics: list[str], out: Path) -> list[Path]:
    """One panel per scalar, a line per setting (the mean over its runs, shaded one
    standard deviation either side where it has several), the legend outside the data;
    written as out.png and out.pdf."""
    plt = pyplot()
    fig, axes = plt.subplots(len(metrics), 1, figsize=(7, 2.8 * len(metrics)), squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        for label, runs in groups.items():
            steps, mean, std = curve(runs, metric)
            if not steps:
                continue
            n = len(runs)
            name = label if n == 1 else f"{label} (mean of {n} seeds ± std)"
            (line,) = ax.plot(steps, mean, label=name, linewidth=1.5)
            if n > 1:
                low = [m - d for m, d in zip(mean, std, strict=True)]
                high = [m + d for m, d in zip(mean, std, strict=True)]
                ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    written = []
    for suffix in (".png", ".pdf"):
        path = out.with_suffix(suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150, bbox_inches="tight")
        written.append(path)
    plt.close(fig)
    return written


def timelapse(run: Path, out: Path, seconds_per_frame: float = 0.4) -> tuple[Path, int]:
    """out (a GIF): the run's samples/step_*.png in step order, one frame each, the step
    written in its top-left corner; returns it and the number of frames."""
    from PIL import Image, ImageDraw

    plots = sorted((run / "samples").glob("step_*.png"), key=lambda p: int(p.stem[5:]))
    if not plots:
        raise UserError(f"timelapse=true: {run} has no samples/step_*.png")
    frames = []
    for path in plots:
        frame = Image.open(path).convert("RGB")
        draw = ImageDraw.Draw(frame)
        text = f"step {int(path.stem[5:])}"
        box = draw.textbbox((4, 4), text)
        draw.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill="white")
        draw.text((4, 4), text, fill="black")
        frames.append(frame)
    out.parent.mkdir(parents=True, exist_ok=True)
    duration = int(seconds_per_frame * 1000)
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=duration, loop=0)
    return out, len(frames)
