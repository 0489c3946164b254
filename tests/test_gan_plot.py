"""gan-plot: curves of a sweep's runs, one line per setting with the mean and spread over
seeds, as PNG and PDF; a run's sample plots as a GIF in step order."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageChops

from gan_cli.analysis import curves
from gan_cli.cli import gan_train as train
from gan_cli.cli import plot
from tests.helpers import jsonl, run_in_process

TINY = ["trainer.steps=20", "trainer.log_every=5", "trainer.eval_every=10"]
TINY += ["trainer.sample_every=10", "trainer.ckpt_every=0", "data.heldout_size=100"]
TINY += ["model.hidden_dim=32", "logger=none"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two settings of gp_lambda, three seeds each."""
    cwd = tmp_path_factory.mktemp("plot")
    args = ["-m", "trainer.seed=0,1,2", "loss.gp_lambda=1,10", *TINY]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.setattr("sys.argv", ["gan-train", *args])
        train.main()
    (folder,) = (cwd / "outputs" / "multirun").glob("*/*")
    return folder


def test_runs_that_differ_by_seed_are_one_line_their_mean_and_spread(sweep):
    groups = curves.settings(curves.run_folders([str(sweep)]))
    assert sorted(groups) == ["loss.gp_lambda=1", "loss.gp_lambda=10"]
    assert all(len(runs) == 3 for runs in groups.values())
    runs = groups["loss.gp_lambda=10"]
    steps, mean, std = curves.curve(runs, "loss/d")
    table = np.array([[r["loss/d"] for r in jsonl(run / "metrics.jsonl")] for run in runs])
    assert steps == [5, 10, 15, 20]
    np.testing.assert_allclose(mean, table.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, table.std(0, ddof=1), rtol=1e-12)


def test_gan_plot_writes_png_and_pdf(sweep, tmp_path, capsys, monkeypatch):
    args = [str(sweep), "metric=loss/d,wasserstein/exact", f"out={tmp_path / 'fig'}"]
    code, output = run_in_process(plot.main, args, tmp_path, capsys, monkeypatch)
    assert code == 0, output
    assert Image.open(tmp_path / "fig.png").size[0] > 500
    assert (tmp_path / "fig.pdf").read_bytes().startswith(b"%PDF")
    code, output = run_in_process(
        plot.main, [str(sweep), "metric=fid"], tmp_path, capsys, monkeypatch
    )
    assert code == 2 and "metric=fid is in no run's metrics.jsonl" in output


def test_a_timelapse_has_a_frame_per_sample_plot_in_step_order(
    sweep, tmp_path, capsys, monkeypatch
):
    run = next(p.parent for p in sweep.glob("*/metrics.jsonl"))
    out = tmp_path / "t.gif"
    code, output = run_in_process(
        plot.main, [str(run), "timelapse=true", f"out={out}"], tmp_path, capsys, monkeypatch
    )
    assert code == 0, output
    gif = Image.open(out)
    assert gif.n_frames == 2
    for i, step in enumerate([10, 20]):
        gif.seek(i)
        frame = gif.convert("RGB")
        plot_png = Image.open(run / "samples" / f"step_{step:07d}.png").convert("RGB")
        # beyond the GIF palette's rounding, the frame differs where its step is written
        strong = ImageChops.difference(frame, plot_png).convert("L").point(lambda v: v > 60 and 255)
        changed = strong.getbbox()
        assert changed is not None and changed[2] < frame.width / 2 and changed[3] < 40


def test_a_timelapse_named_without_gif_is_a_gif(sweep, tmp_path, capsys, monkeypatch):
    """out=NAME without .gif writes NAME.gif (and says so), not PIL's traceback."""
    run = next(p.parent for p in sweep.glob("*/metrics.jsonl"))
    args = [str(run), "timelapse=true", f"out={tmp_path / 'movie'}"]
    code, output = run_in_process(plot.main, args, tmp_path, capsys, monkeypatch)
    assert code == 0, output
    assert f"{tmp_path / 'movie.gif'} (2 frames)" in output
    assert Image.open(tmp_path / "movie.gif").n_frames == 2
