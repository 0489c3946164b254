"""The WGAN-GP architecture study: the knobs build the networks they say, the seven
variants train, model.arch_seed draws reproducibly, and the paired table counts right."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from torch import nn

from gan_cli.analysis.robustness import FRACTIONS, study
from gan_cli.analysis.sweep_table import collect
from gan_cli.cli.launch import fit_config as train
from gan_cli.config.build import critic, generator
from gan_cli.config.spec import check
from gan_cli.models import dcgan, mlp, resnet
from gan_cli.models.common import Gated, ShiftedSoftplus
from gan_cli.models.space import SPACE, draw_architecture
from tests.helpers import FAST, compose, image_data

WEIGHTS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def _count(net: nn.Module, kinds) -> int:
    return sum(isinstance(m, kinds) for m in net.modules())


def test_the_defaults_are_dcgans_layers():
    g, d = dcgan.Generator((3, 32, 32)), dcgan.Discriminator((3, 32, 32))
    kinds = [type(m).__name__ for m in g.net]
    assert kinds == ["ConvTranspose2d", "BatchNorm2d", "ReLU"] * 3 + ["ConvTranspose2d", "Tanh"]
    assert [m.out_channels for m in g.net if isinstance(m, nn.ConvTranspose2d)] == [256, 128, 64, 3]
    assert [type(m).__name__ for m in d.net][:5] == [
        "Conv2d",
        "LeakyReLU",
        "Conv2d",
        "BatchNorm2d",
        "LeakyReLU",
    ]
    assert _count(d, nn.Conv2d) == 4


@pytest.mark.parametrize(
    "side, depth", [(32, 4), (32, 8), (32, 12), (32, 20), (64, 5), (64, 8), (64, 12), (64, 20)]
)
def test_depth_is_the_number_of_convolutions_and_keeps_the_shapes(side, depth):
    g = dcgan.Generator((1, side, side), g_channels=4, depth=depth)
    d = dcgan.Discriminator((1, side, side), d_channels=4, depth=depth)
    assert _count(g, WEIGHTS) == depth and _count(d, WEIGHTS) == depth
    assert g(torch.randn(2, 100)).shape == (2, 1, side, side)
    assert d(torch.randn(2, 1, side, side)).shape == (2,)


@pytest.mark.parametrize(
    "act, kind",
    [
        ("relu", nn.ReLU),
        ("leaky_relu", nn.LeakyReLU),
        ("softplus", ShiftedSoftplus),
        ("tanh", nn.Tanh),
        ("gated", Gated),
    ],
)
def test_each_nonlinearity_is_what_it_says(act, kind):
    g = dcgan.Generator((1, 32, 32), g_channels=4, act=act)
    d = dcgan.Discriminator((1, 32, 32), d_channels=4, act=act)
    m = mlp.Generator((2,), hidden_dim=8, act=act)
    assert _count(g, kind) >= 3 and _count(d, kind) == 3 and _count(m, kind) == 3
    if act == "gated":  # the layer before gives twice the width: tanh(a) * sigmoid(b)
        assert g.net[0].out_channels == 2 * 16
        x = torch.randn(4, 6)
        assert torch.allclose(Gated()(x), torch.tanh(x[:, :3]) * torch.sigmoid(x[:, 3:]))
    if act == "softplus":
        x = torch.linspace(-5, 5, 11)
        assert torch.allclose(ShiftedSoftplus()(x), nn.functional.softplus(2 * x + 2) / 2 - 1)


@pytest.mark.parametrize(
    "norm, kind", [("batch", nn.BatchNorm2d), ("layer", nn.GroupNorm), ("none", None)]
)
def test_each_norm_is_what_it_says(norm, kind):
    g = dcgan.Generator((1, 32, 32), g_channels=4, norm=norm)
    d = dcgan.Discriminator((1, 32, 32), d_channels=4, norm=norm)
    norms = (nn.BatchNorm2d, nn.GroupNorm)
    assert _count(g, norms) == (3 if kind else 0) and _count(d, norms) == (2 if kind else 0)
    if kind:
        assert _count(g, kind) == 3 and _count(d, kind) == 2


def test_a_constant_width_generator_and_resnet_depth():
    g = dcgan.Generator((1, 32, 32), g_channels=16, constant_width=True, norm="none")
    assert {m.out_channels for m in g.net if isinstance(m, nn.ConvTranspose2d)} == {16, 1}
    rg = resnet.Generator((3, 32, 32), g_channels=8, depth=102)
    rd = resnet.Discriminator((3, 32, 32), d_channels=8, depth=101)
    assert len(rg.blocks) == (102 - 8) // 2 + 3 and len(rd.blocks) == (101 - 9) // 2 + 4
    assert rd(rg(torch.randn(2, 128))).shape == (2,)


VARIANTS = ["baseline", "g_nobn_const", "g_mlp", "no_norm", "gated", "tanh", "resnet101"]


# the 101-layer ResNet's step takes half a minute on 2 cores: in the slow suite (.ci/run)
@pytest.mark.parametrize(
    "arch", [pytest.param(a, marks=pytest.mark.slow) if a == "resnet101" else a for a in VARIANTS]
)
def test_each_variant_builds_what_it_names_and_trains_a_step(arch, image_root, tmp_path):
    loss = "wgan_gp" if arch == "no_norm" else "vanilla"
    widths = [] if arch == "resnet101" else ["model.g_channels=8", "model.d_channels=8"]
    cfg = check(
        compose(
            f"+arch={arch}",
            *image_data("mnist", image_root),
            f"loss={loss}",
            "logger=none",
            *widths,
            *FAST,
            "trainer.steps=1",
            "metrics.eval=[]",
        )
    )
    G, D = generator(cfg), critic(cfg, (1, 32, 32))
    families = {"g_mlp": (mlp, dcgan), "resnet101": (resnet, resnet)}.get(arch, (dcgan, dcgan))
    assert type(G).__module__ == families[0].__name__ and type(D).__module__ == families[1].__name__
    if arch == "g_nobn_const":
        assert _count(G, nn.BatchNorm2d) == 0
    if arch == "no_norm":
        assert (
            _count(G, (nn.BatchNorm2d, nn.GroupNorm))
            == _count(D, (nn.BatchNorm2d, nn.GroupNorm))
            == 0
        )
    if arch in ("gated", "tanh"):
        kind = Gated if arch == "gated" else nn.Tanh
        assert _count(G, kind) >= 3 and _count(D, kind) == 3
    if arch == "resnet101":
        assert cfg.model.d_depth == 101 and len(D.blocks) == 50
    if arch == "g_mlp":
        assert _count(G, nn.Linear) == 4 and G.net[0].out_features == 512
    final = train(cfg, tmp_path)
    assert torch.isfinite(torch.tensor(final["loss/d"]))


def test_an_arch_seed_draws_the_same_architecture_everywhere_and_records_it(image_root, tmp_path):
    # Python's Mersenne Twister is specified: these are the draws on every machine
    assert draw_architecture(17, SPACE) == {
        "g_act": "tanh", "d_act": "softplus", "g_depth": 12, "d_depth": 12,
        "g_norm": "batch", "d_norm": "none", "g_channels": 32, "d_channels": 32,
    }  # fmt: skip
    cfg = check(
        compose(
            "model=dcgan",
            "model.arch_seed=17",
            *image_data("mnist", image_root),
            "loss=vanilla",
            "logger=none",
            *FAST,
            "trainer.steps=1",
            "metrics.eval=[]",
        )
    )
    assert cfg.model.discriminator.act == "softplus" and cfg.model.generator.depth == 12
    train(cfg, tmp_path)
    written = yaml.safe_load((tmp_path / "config.yaml").read_text())["model"]
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=False)
    for recorded in (written, state["config"]["model"]):
        assert (
            recorded["arch_seed"] == 17
            and recorded["g_act"] == "tanh"
            and recorded["d_depth"] == 12
        )
    assert _count(generator(cfg), WEIGHTS) == 12


def test_the_paired_table_counts_what_the_status_files_say(tmp_path):
    """A fake sweep of 6 architectures x 2 losses, one job failed and one missing, read
    back through the summary's own collect(); counted again here by hand."""
    real = 9.0
    scores = {
        0: (8.0, 2.0),
        1: (1.0, 5.0),
        2: (7.5, 7.5),
        3: (0.5, None),
        4: (3.0, "failed"),
        5: (6.0, "missing"),
    }
    for seed, pair in scores.items():
        for loss, score in zip(("vanilla", "wgan_gp"), pair, strict=True):
            if score == "missing":
                continue
            job = tmp_path / f"{seed}_{loss}"
            (job / ".hydra").mkdir(parents=True)
            (job / ".hydra" / "overrides.yaml").write_text(
                yaml.safe_dump([f"model.arch_seed={seed}", f"loss={loss}"])
            )
            metrics = {"floor/classes/score": real} | (
                {} if score in (None, "failed") else {"classes/score": score}
            )
            status = "failed" if score == "failed" else "ok"
            (job / "status.json").write_text(
                json.dumps({"status": status, "error": "", "metrics": metrics})
            )
    found = study(collect(tmp_path), ["model.arch_seed", "loss"])
    assert (
        found.compared == "loss"
        and (found.a, found.b) == ("vanilla", "wgan_gp")
        and found.pairs == 6
    )
    for row, fraction in zip(found.rows, FRACTIONS, strict=True):
        t = fraction * real
        ok = {s: [isinstance(v, float) and v >= t for v in pair] for s, pair in scores.items()}
        expected = {
            "only_vanilla": sum(a and not b for a, b in ok.values()),
            "only_wgan_gp": sum(b and not a for a, b in ok.values()),
            "both": sum(a and b for a, b in ok.values()),
            "neither": sum(not (a or b) for a, b in ok.values()),
        }
        assert row == {"threshold": fraction, **expected}
    assert sum(found.rows[0][k] for k in ("only_vanilla", "only_wgan_gp", "both", "neither")) == 6


def test_the_figure_of_sample_grids_is_a_table_of_the_two_swept_keys(tmp_path):
    """samples.png and samples.csv of a fake sweep of 2 variants x 2 losses, one failed:
    rows in the order the sweep lists them, each score the job's own."""
    import csv

    from PIL import Image

    from gan_cli.analysis.sweep_figures import sample_grid

    scores = {("tanh", "vanilla"): 4.0, ("tanh", "wgan_gp"): 6.5, ("baseline", "vanilla"): 8.25}
    for arch in ("tanh", "baseline"):
        for loss in ("vanilla", "wgan_gp"):
            job = tmp_path / f"{arch}_{loss}"
            (job / ".hydra").mkdir(parents=True)
            (job / ".hydra" / "overrides.yaml").write_text(
                yaml.safe_dump([f"+arch={arch}", f"loss={loss}"])
            )
            ok = (arch, loss) in scores
            (job / "status.json").write_text(
                json.dumps(
                    {
                        "status": "ok" if ok else "failed",
                        "error": "" if ok else "diverged",
                        "metrics": {"classes/score": scores[arch, loss]} if ok else {},
                    }
                )
            )
            (job / "samples").mkdir()
            for step in (1, 2):
                Image.new("RGB", (20, 20), (step * 100, 0, 0)).save(
                    job / "samples" / f"step_{step:07d}.png"
                )
    order = {"+arch": ["tanh", "baseline"], "loss": ["vanilla", "wgan_gp"]}
    written = sample_grid(collect(tmp_path), ["+arch", "loss"], order, tmp_path)
    assert written == [tmp_path / "samples.png", tmp_path / "samples.csv"]
    table = list(csv.DictReader(open(tmp_path / "samples.csv")))
    assert [r["+arch"] for r in table] == ["tanh", "baseline"]
    for row in table:
        for loss in ("vanilla", "wgan_gp"):
            expected = scores.get((row["+arch"], loss))
            assert row[loss] == ("" if expected is None else str(expected))
    figure = Image.open(tmp_path / "samples.png")
    assert figure.width > 200 and figure.height > 200
    # one swept key, or three: no such figure
    assert sample_grid(collect(tmp_path), ["+arch"], order, tmp_path / "none") == []


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_the_variants_sweep_draws_the_figure_and_its_scores(image_root, workdir, in_process):
    """+sweep=architectures through gan-train -m (two of its variants, two losses): the
    summary writes samples.png and samples.csv, the scores each job logged."""
    import csv

    from gan_cli.cli.gan_train import main as train_main

    result = in_process(
        train_main,
        "-m",
        "+sweep=architectures",
        "+arch=g_mlp,baseline",
        "loss=wgan_gp,vanilla",
        *image_data("mnist", image_root),
        "model.g_channels=8",
        "model.d_channels=8",
        "trainer.steps=1",
        "trainer.eval_every=0",
        "trainer.sample_every=0",
        "metrics.eval=[classifier]",
        "data.heldout_size=200",
        "logger=none",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir,) = (workdir / "outputs" / "multirun").glob("*/*")
    table = list(csv.DictReader(open(sweep_dir / "samples.csv")))
    assert [r["+arch"] for r in table] == ["g_mlp", "baseline"]  # as the command lists them
    assert list(table[0]) == ["+arch", "wgan_gp", "vanilla"]
    jobs = {(r["+arch"], r["loss"]): r for r in csv.DictReader(open(sweep_dir / "summary.csv"))}
    for row in table:
        for loss in ("wgan_gp", "vanilla"):
            assert float(row[loss]) == float(jobs[row["+arch"], loss]["classes/score"])
    assert (sweep_dir / "samples.png").stat().st_size > 0
    assert "classes/score of each job's last samples" in result.stdout


def test_a_sweep_job_whose_critic_cannot_read_the_data_is_refused_with_that_line(
    workdir, in_process
):
    """A sweep's job is checked before the sweep starts: the line names the job and the
    families that fit, and no folder is made."""
    from gan_cli.cli.gan_train import main as train_main

    result = in_process(
        train_main, "-m", "+arch=g_mlp", "trainer.steps=1", "logger=none", cwd=workdir
    )
    assert result.returncode == 2
    assert result.stderr.startswith("gan-train: error: job +arch=g_mlp trainer.steps=1 logger=none")
    assert "model.discriminator=dcgan does not fit this data" in result.stderr
    assert not any(workdir.iterdir())
