"""The sample figures: chosen by the data's kind, and legible."""

from __future__ import annotations

import matplotlib.figure
import numpy as np
import torch

from gan_cli.data.base import KINDS
from gan_cli.data.toy2d import Toy2D
from gan_cli.training.figures import FIGURES, toy_scatter


def test_every_kind_of_data_has_a_figure():
    assert set(FIGURES) == set(KINDS)


def test_a_narrow_lines_plot_keeps_its_tick_labels_apart(tmp_path, monkeypatch):
    """On the parallel lines, generated points near x = 0 make the x range tiny; the
    view stays square, so the labels of neither axis run into each other."""
    labels = []  # per axis of the scatter, the window extents of its tick labels

    def save_and_measure(fig, *args, **kwargs):
        save(fig, *args, **kwargs)
        renderer = fig.canvas.get_renderer()  # before the figure is closed
        ax = fig.axes[0]  # the scatter (the other axes are the colorbar's)
        for axis in (ax.xaxis, ax.yaxis):
            ticks = [t for t in axis.get_ticklabels() if t.get_text()]
            labels.append([t.get_window_extent(renderer) for t in ticks])

    save = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", save_and_measure)
    data = Toy2D("lines", batch_size=1000)
    fake = data.sample() * torch.tensor([0.0, 1.0]) + torch.tensor([0.01, 0.0])
    toy_scatter(tmp_path / "lines.png", fake, data.heldout, lambda p: p[:, 0], "lines")
    assert len(labels) == 2
    for boxes in labels:
        assert len(boxes) >= 3
        assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:], strict=False))


def test_2d_interpolations_are_coloured_paths(tmp_path):
    """Each path its own colour, its points joined by a line (not dots of one colour)."""
    from PIL import Image

    from gan_cli.training.figures import toy_paths

    t = torch.linspace(0, 1, 10)
    rows = torch.cat([torch.stack([t, t * k], 1) for k in (1.0, -1.0, 0.0)])  # 3 paths
    toy_paths(tmp_path / "paths.png", rows, steps=10, title="3 paths")
    pixels = np.asarray(Image.open(tmp_path / "paths.png").convert("RGB")).reshape(-1, 3)
    saturated = pixels[(pixels.max(1).astype(int) - pixels.min(1)) > 80]  # coloured, not grey
    hues = {tuple(p // 64) for p in saturated}
    assert len(saturated) > 500 and len(hues) >= 3
