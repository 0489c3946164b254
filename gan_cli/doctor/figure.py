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
        (f"{f.rule} (since step {f.began})", f.plot, thresholds(f.lines, f.values), f.began)
        for f in diagnosis.findings
    ] or [(title, keys, {}, None) for title, keys in HEALTHY_PANELS]
    panels = [p for p in panels if any(run.series(k) for k in p[1])]
    if not panels:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.6 * len(panels)), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (title, keys, lines, began) in zip(axes[:, 0], panels, strict=True):
        shown = [k for k in keys if any(math.isfinite(v) for _, v in run.series(k))]
        handles = []
        for i, key in enumerate(shown):  # the first on the left axis, the others on the right
            side = ax if i == 0 else (handles[-1].axes if i > 1 else ax.twinx())
            points = [(s, v) for s, v in run.series(key) if math.isfinite(v)]
            (line,) = side.plot(*zip(*points, strict=True), label=key, lw=1.2, color=colors[i])
            handles.append(line)
            if key in lines:
                side.axhline(lines[key], ls="--", lw=1, color=line.get_color())
            if _spans_decades(run, (key,)):
                side.set_yscale("log")
        if began is not None:
            ax.axvline(began, color="0.4", lw=1, ls=":")
        ax.set_title(title + "; dashed: thresholds", fontsize=10, loc="left")
        ax.legend(handles=handles, fontsize=8, loc="best")
        ax.set_xlabel("step", fontsize=8)
    fig.suptitle(f"gan-doctor: {diagnosis.path.name}", fontsize=11)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
    return path


def thresholds(lines: dict[str, float], values: dict[str, float]) -> dict[str, float]:
    """The rule's fixed threshold lines, with those a finding computed: the least modes,
    classes or recall that are not collapse, and the real data's floor of the measure."""
    found = dict(lines)
    measured = [k for k in values if "/" in k]
    if "least" in values and measured:
        found[measured[0]] = values["least"]
    if "floor" in values and measured:
        found[measured[0]] = values["floor"]
    return found


def _spans_decades(run: Scalars, keys: tuple[str, ...]) -> bool:
    values = [v for k in keys for _, v in run.series(k) if math.isfinite(v) and v > 0]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 1000
