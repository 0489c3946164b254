"""Every `+experiment=...` recipe composes, passes the checks and trains a step through
gan-train (on small files in the official formats, with small widths where it is an image
recipe: the recipe's loss, optimizer, schedule and cadence are what is run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gan_cli.cli import gan_train as train
from gan_cli.config.compose import config_dir
from tests.helpers import jsonl

EXPERIMENTS = sorted(p.stem for p in (Path(config_dir()) / "experiment").glob("*.yaml"))
ONE_STEP = [
    "trainer.steps=1",
    "trainer.eval_every=0",
    "trainer.sample_every=0",
    "trainer.ckpt_every=0",
    "metrics.fid=false",
    "metrics.eval=[]",
    "data.heldout_size=50",
    "logger=none",
]
SMALL_IMAGES = ["model.g_channels=8", "model.d_channels=8", "data.batch_size=8"]


def test_the_experiments_are_the_ones_the_guides_name():
    guides = (Path(__file__).parents[1] / "docs" / "guides").glob("*.md")
    text = "".join(page.read_text() for page in guides)
    for name in EXPERIMENTS:
        assert f"+experiment={name}" in text, name


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_trains_a_step(name, image_root, workdir, in_process):
    extra = []
    if name.startswith(("cifar10", "fashion_mnist", "stacked_mnist")):  # the files here
        extra = [f"data.root={image_root}", "data.download=false", *SMALL_IMAGES]
    if name.startswith("stacked_mnist"):
        extra.append("data.n_train=200")
    if "adagan" in name:
        extra = ["boost.rounds=2", "boost.classifier_steps=2"]
    run = in_process(
        train.main, f"+experiment={name}", *ONE_STEP, *extra, "hydra.run.dir=r", cwd=workdir
    )
    assert run.returncode == 0, run.stderr
    rows = jsonl(workdir / "r" / "metrics.jsonl")
    assert rows and rows[-1]["step"] == (2 if "adagan" in name else 1)
