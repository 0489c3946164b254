"""The WGAN-GP architecture study: the knobs build the networks they say, the seven
variants train, model.arch_seed draws reproducibly, and the paired table counts right."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from torch import nn

from gan_cli.cli.robustness import FRACTIONS, study
from gan_cli.cli.summary import collect
from gan_cli.cli.train import train
from gan_cli.config.build import critic, generator
from gan_cli.config.checks import check
from gan_cli.models import dcgan, mlp, resnet
from gan_cli.models.common import SPACE, Gated, ShiftedSoftplus, draw_architecture
from tests.conftest import FAST, compose, image_data

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


@pytest.mark.parametrize("arch", VARIANTS)
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
