"""doctor.png: the curves behind each finding, their thresholds dashed and the step
the failure began marked; for a healthy run, the curves the rules read most."""

from __future__ import annotations

import math
from pathlib import Path

from gan_cli.core.atomic import atomic_write
from gan_cli.core.plotting import pyplot
from gan_cli.doctor.base import Scalars
from gan_cli.doctor.report import Diagnosis

HEALTHY_PANELS = (
    ("quality", ("wasserstein/exact", "fid/classifier", "modes/captured")),
    ("gradients", ("health/grad_g", "health/grad_d")),
    ("the critic", ("health/d_accuracy", "health/rt", "health/diversity")),
)


def draw(diagnosis: Diagnosis, run: Scalars, path: Path) -> Path | None:
    """Write the figure; None when the run logs none of the scalars to draw."""
    panels = [
        (f"{f.rule} (since step {f.began})", f.plot, f.lines, f.began) for f in diagnosis.findings
    ] or [(title, keys, {}, None) for title, keys in HEALTHY_PANELS]
    panels = [p for p in panels if any(run.series(k) for k in p[1])]
    if not panels:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.6 * len(panels)), squeeze=False)
    for ax, (title, keys, lines, began) in zip(axes[:, 0], panels, strict=True):
        for key in keys:
            points = [(s, v) for s, v in run.series(key) if math.isfinite(v)]
            if not points:
                continue
            (line,) = ax.plot(*zip(*points, strict=True), label=key, lw=1.2)
            if key in lines:
                ax.axhline(lines[key], ls="--", lw=1, color=line.get_color())
        if began is not None:
            ax.axvline(began, color="0.4", lw=1, ls=":")
        if _spans_decades(run, keys):
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10, loc="left")
        ax.legend(fontsize=8, loc="best")
        ax.set_xlabel("step", fontsize=8)
    fig.suptitle(f"gan-doctor: {diagnosis.path.name}", fontsize=11)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
    return path


def _spans_decades(run: Scalars, keys: tuple[str, ...]) -> bool:
    values = [v for k in keys for _, v in run.series(k) if math.isfinite(v) and v > 0]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 1000
