"""The sample figures: chosen by the data's kind, and legible."""

from __future__ import annotations

import matplotlib.figure
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
