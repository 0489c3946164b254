"""Augmentation of what the critic sees (data.augment, DiffAugment's policies), ADA's
adaptive probability (data.augment_target), and training on a fraction of the data."""

from __future__ import annotations

import pytest
import torch

from gan_cli.cli import gan_train as train
from gan_cli.config.spec import check
from gan_cli.core.errors import UserError
from gan_cli.data.augment import ADA_INTERVAL, Augment, color, cutout, parse, translation, valid
from gan_cli.data.official import MNIST
from gan_cli.training.checkpoint import load_checkpoint
from tests.helpers import compose, image_data, jsonl


def images(b: int = 16, c: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Images in [-1, 1] with no pixel exactly 0, so a 0 in the output was put there."""
    x = torch.rand(b, c, size, size, generator=torch.Generator().manual_seed(seed)) * 1.8 - 0.9
    return torch.where(x.abs() < 0.05, torch.full_like(x, 0.5), x)


def shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """x (C, H, W) moved down by dy and right by dx, zero fill."""
    out = torch.zeros_like(x)
    h, w = x.shape[1:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        :, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def test_translation_moves_each_image_by_at_most_an_eighth_with_zero_fill():
    x = images()
    torch.manual_seed(1)
    out = translation(x)
    assert out.shape == x.shape
    moves = []
    for image, moved in zip(x, out, strict=True):
        found = [
            (dy, dx)
            for dy in range(-4, 5)
            for dx in range(-4, 5)
            if torch.equal(moved, shifted(image, dy, dx))
        ]
        assert len(found) == 1, "each output is exactly one shift of its input"
        moves.append(found[0])
    assert len(set(moves)) > 1  # drawn per image


def test_cutout_zeroes_one_square_of_half_the_image():
    x = images(b=64)
    torch.manual_seed(2)
    out = cutout(x)
    assert out.shape == x.shape
    holes = out == 0
    assert torch.equal(out[~holes], x[~holes])  # the rest untouched
    assert torch.equal(holes, holes[:, :1].expand_as(holes))  # the same square in every channel
    for hole in holes[:, 0]:
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 16 and 1 <= len(cols) <= 16
        box = hole[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all() and hole.sum() == box.numel()  # one filled rectangle
    full = holes[:, 0].flatten(1).sum(1)
    assert (full == 256).any()  # whole 16 x 16 squares where the centre is inside


def test_color_is_an_affine_map_of_each_image_and_saturation_leaves_gray_alone():
    gray = images(c=1)
    torch.manual_seed(3)
    out = color(gray)
    # one channel: brightness then contrast, out = a x + b per image, a in [0.5, 1.5)
    for image, coloured in zip(gray, out, strict=True):
        x, y = image.flatten().double(), coloured.flatten().double()
        a = (y[1] - y[0]) / (x[1] - x[0])
        assert 0.5 <= a < 1.5
        torch.testing.assert_close(y, a * x + (y[0] - a * x[0]), rtol=0, atol=1e-5)
    rgb = images(c=3)
    out = color(rgb)
    assert out.shape == rgb.shape and not torch.equal(out, rgb)


@pytest.mark.parametrize("policy", [translation, cutout, color])
def test_the_generator_gradient_passes_through_each_policy(policy):
    x = images().requires_grad_(True)
    policy(x).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_the_generator_learns_through_the_augmented_critic():
    """G -> every policy -> D: the generator's parameters get a gradient, as in its update."""
    G = torch.nn.Sequential(torch.nn.Linear(4, 3 * 32 * 32), torch.nn.Tanh())
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 1))
    critic = Augment(("translation", "cutout", "color"), None, 8, "cpu").around(D)
    critic(G(torch.randn(8, 4)).view(8, 3, 32, 32)).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


def test_the_policy_list_is_checked():
    assert parse("translation, cutout,color") == ("translation", "cutout", "color")
    assert parse("") == () and parse("none") == () and parse(None) == ()
    assert valid("color") and not valid("colour") and not valid("color,color")


def test_a_fixed_p_of_1_augments_every_sample_and_adapts_nothing():
    aug = Augment(("cutout",), None, 64, "cpu")
    x = images(b=32)
    assert ((aug(x) == 0).flatten(1).any(1)).all()
    for _ in range(40):
        aug.observe(torch.ones(64))
    assert aug.p.item() == 1.0


def _after(real_out: float, p: float, updates: int, target: float = 0.6) -> float:
    aug = Augment(("translation",), target, 64, "cpu")
    aug.p = torch.tensor(p)
    for _ in range(updates):
        aug.observe(torch.full((64,), real_out))
    return aug.p.item()


def test_ada_raises_p_for_an_overfitting_critic_and_lowers_it_otherwise():
    step = 64 * ADA_INTERVAL / 500_000  # ADA: 500k images to go from 0 to 1
    # sure of every real image (r_t = 1 > 0.6): p rises by one step every 4 updates
    assert _after(3.0, 0.0, 4 * 10) == pytest.approx(10 * step)
    assert _after(3.0, 0.0, 4 * 10 + 3) == pytest.approx(10 * step)  # not before the 4th
    # unsure (r_t = -1 < 0.6): p falls, and never below 0
    assert _after(-3.0, 0.5, 4 * 10) == pytest.approx(0.5 - 10 * step)
    assert _after(-3.0, 0.0, 4 * 10) == 0.0
    assert _after(3.0, 1.0, 8) == 1.0  # nor above 1
    mixed = Augment(("translation",), 0.6, 4, "cpu")  # r_t = 0.5: 3 of 4 positive, below 0.6
    mixed.p = torch.tensor(0.5)
    for _ in range(4):
        mixed.observe(torch.tensor([1.0, 2.0, 3.0, -1.0]))
    assert mixed.p.item() == pytest.approx(0.5 - 4 * 4 / 500_000)


def test_p_0_leaves_images_alone_and_p_between_augments_some():
    aug = Augment(("cutout",), 0.6, 64, "cpu")
    x = images(b=400)
    assert torch.equal(aug(x), x)  # ADA starts at p = 0
    aug.p = torch.tensor(0.25)
    cut = (aug(x) == 0).flatten(1).any(1).float().mean().item()
    assert 0.15 < cut < 0.35


def test_a_fraction_of_the_training_split_is_drawn_once_from_the_seed(image_root):
    full = MNIST(str(image_root), download=False, heldout_size=5)
    part = MNIST(str(image_root), download=False, heldout_size=5, fraction=0.5)
    again = MNIST(str(image_root), download=False, heldout_size=5, fraction=0.5)
    other = MNIST(str(image_root), download=False, heldout_size=5, fraction=0.5, seed=1)
    assert len(part.images) == len(full.images) // 2 and torch.equal(part.images, again.images)
    assert not torch.equal(part.images, other.images)
    rows = {bytes(i.numpy()) for i in full.images}
    assert all(bytes(i.numpy()) in rows for i in part.images)  # a subset of the split
    assert torch.equal(part.train, full.train)  # the metrics' split stays whole
    assert torch.equal(part.targets, full.labels.train[_where(full.images, part.images)])


def _where(all_images: torch.Tensor, some: torch.Tensor) -> torch.Tensor:
    return torch.tensor([int((all_images == s).flatten(1).all(1).nonzero()[0]) for s in some])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["data.augment=colour"],
            r"data.augment must be a comma list of translation\|cutout\|color",
        ),
        (["data.augment=cutout", "loss.pack=2"], "loss.pack=2 does not combine with data.augment"),
        (["data.fraction=0"], r"data.fraction must be a number in \(0, 1\], got 0"),
        (["data.augment_target=2"], r"data.augment_target must be null or a number in \[-1, 1\]"),
    ],
)
def test_bad_augmentation_settings_are_one_line(overrides, message, image_root):
    with pytest.raises(UserError, match=message):
        check(compose(*image_data("mnist", image_root), *overrides))


def test_toy_data_has_no_augmentation_key():
    with pytest.raises(UserError, match="data.augment"):
        check(compose("data.augment=cutout"))


TINY = [
    "model=dcgan",
    "model.g_channels=8",
    "model.d_channels=8",
    "model.z_dim=16",
    "loss=wgan_gp",  # the penalty calls the critic too
    "data.augment=translation,cutout,color",
    "data.augment_target=0.0",  # p moves from the first adjustment on
    "data.batch_size=16",
    "trainer.log_every=4",
    "trainer.eval_every=0",
    "trainer.sample_every=0",
    "trainer.ckpt_every=8",
    "metrics.eval=[]",
    "logger=none",
]


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_ada_through_the_command_logs_p_and_resumes_it_exactly(image_root, workdir, in_process):
    data = image_data("mnist", image_root)
    straight = in_process(
        train.main, *data, *TINY, "trainer.steps=16", "hydra.run.dir=a", cwd=workdir
    )
    assert straight.returncode == 0, straight.stderr
    first = in_process(train.main, *data, *TINY, "trainer.steps=8", "hydra.run.dir=b", cwd=workdir)
    assert first.returncode == 0, first.stderr
    resumed = in_process(
        train.main, *data, *TINY, "trainer.steps=16", "trainer.resume=auto", "hydra.run.dir=b",
        cwd=workdir,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    p = [r["augment/p"] for r in jsonl(workdir / "a" / "metrics.jsonl")]
    assert len(p) == 4 and p[-1] != 0  # p moved (the critic's real outputs are not all 0)
    assert p == [r["augment/p"] for r in jsonl(workdir / "b" / "metrics.jsonl")]
    a, b = (load_checkpoint(workdir / r / "checkpoints" / "last.pt") for r in "ab")
    assert a["augment"]["p"] == b["augment"]["p"] and a["augment"]["count"] == b["augment"]["count"]
    for k, v in a["generator"].items():
        assert torch.equal(v, b["generator"][k]), k
