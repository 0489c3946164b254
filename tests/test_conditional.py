"""Class-conditional GANs: labels from the data files, conditional batch norm, the
projection and auxiliary-classifier discriminators against their definitions, the
penalties at a fixed class, the per-class metrics against closed forms, a short
conditional run that learns its classes, and gan-sample by class."""

from __future__ import annotations

import contextlib
import pickle
import re

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gan_cli.cli.sample import main as sample_main
from gan_cli.config.build import assemble
from gan_cli.config.spec import check
from gan_cli.constraints.gradient_penalty import GradientPenalty
from gan_cli.constraints.r1 import R1
from gan_cli.constraints.spectral_norm import SpectralNorm
from gan_cli.core.errors import UserError
from gan_cli.data.official import CIFAR10, MNIST
from gan_cli.metrics import REGISTRY, for_run
from gan_cli.metrics.conditional import per_class_fid
from gan_cli.models import dcgan, mlp, resnet
from gan_cli.models.conditional import ConditionalBatchNorm2d
from gan_cli.testing import class_pattern, write_cifar10, write_mnist
from gan_cli.training import step
from gan_cli.training.checkpoint import load_checkpoint
from gan_cli.training.conditioning import Classes
from gan_cli.training.distributed import World
from tests.helpers import compose, image_data, jsonl, run_in_process, wandb_history

CPU = torch.device("cpu")


# --- labels from the data -----------------------------------------------------------------


def test_cifar10_labels_and_names_come_from_its_batches(tmp_path):
    write_cifar10(tmp_path, n_per_batch=7, n_test=9)
    folder = tmp_path / "cifar-10-batches-py"
    by_hand = [
        pickle.loads((folder / f"data_batch_{i}").read_bytes())["labels"] for i in range(1, 6)
    ]
    data = CIFAR10(str(tmp_path), download=False, heldout_size=4)
    assert data.labels.names == tuple(f"class{i}" for i in range(10))
    expected = np.bincount(np.concatenate(by_hand), minlength=10)
    assert torch.bincount(data.labels.train, minlength=10).tolist() == expected.tolist()
    test = pickle.loads((folder / "test_batch").read_bytes())["labels"]
    assert data.labels.test.tolist() == test
    assert data.heldout_labels.tolist() == test[:4]  # the held-out split keeps its labels


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    """MNIST-format files whose class is a bar's place (class_pattern)."""
    root = tmp_path_factory.mktemp("bars")
    write_mnist(root, n_train=200, n_test=50, patterns=True)
    return root


def _class_of(image: torch.Tensor) -> int:
    """The class whose bar is lit in a [-1, 1] image (1, 32, 32) of class patterns."""
    pixels = image[0, 2:30, 2:30]  # the 28x28 picture inside the zero padding
    scores = [pixels[torch.from_numpy(class_pattern(c) > 0)].mean() for c in range(10)]
    return int(torch.stack(scores).argmax())


def test_a_labelled_batch_is_the_same_batch_with_its_labels(bars):
    data = MNIST(str(bars), download=False, batch_size=16, seed=3)
    x, y = data.sample_labelled()
    assert [_class_of(image) for image in x] == y.tolist()
    again = MNIST(str(bars), download=False, batch_size=16, seed=3)
    assert torch.equal(again.sample(), x)  # the same random stream either way
    shard = MNIST(str(bars), download=False, batch_size=16, seed=3)
    shard.shard(1, 2)  # a rank's images keep their labels
    x, y = shard.sample_labelled()
    assert [_class_of(image) for image in x] == y.tolist()


# --- the networks -------------------------------------------------------------------------


@pytest.mark.parametrize("module", [dcgan, resnet, mlp])
def test_two_classes_from_the_same_latent_differ(module):
    torch.manual_seed(0)
    G = module.Generator((1, 32, 32), n_classes=3, **({"bounded": True} if module is mlp else {}))
    z = torch.randn(1, G.z_dim).repeat(4, 1)
    x = G(z, torch.tensor([0, 0, 2, 2]))
    assert torch.allclose(x[0], x[1]) and not torch.allclose(x[0], x[2], atol=1e-3)
    with pytest.raises(ValueError, match="needs the labels"):
        G(z)


def test_conditional_batch_norm_with_identity_gain_and_bias_is_batch_norm():
    torch.manual_seed(0)
    cbn, bn = ConditionalBatchNorm2d(5, embed_dim=7), nn.BatchNorm2d(5)
    for linear in (cbn.gain, cbn.bias):  # gain 1 + 0, bias 0, for every class
        nn.init.zeros_(linear.weight)
        nn.init.zeros_(linear.bias)
    x, e = torch.randn(6, 5, 4, 4) * 3 + 1, torch.randn(6, 7)
    assert torch.allclose(cbn(x, e), bn(x), atol=1e-6)
    nn.init.normal_(cbn.bias.bias)  # a class-independent shift: batch norm plus a bias
    assert torch.allclose(cbn(x, e), bn(x) + cbn.bias.bias[None, :, None, None], atol=1e-6)


def test_projection_is_the_unconditional_output_plus_the_inner_product():
    torch.manual_seed(0)
    D = mlp.Discriminator((3,), hidden_dim=4, n_layers=1, conditional="projection", n_classes=3)
    x, y = torch.randn(5, 3), torch.tensor([0, 2, 1, 2, 0])
    hidden, out = D.net[0], D.net[2]  # Linear, ReLU, Linear
    h = torch.relu(x @ hidden.weight.T + hidden.bias)  # phi(x), by hand
    psi = h @ out.weight[0] + out.bias[0]
    inner = (D.class_head.embed.weight[y] * h).sum(dim=1)  # <V y, phi(x)>
    assert torch.allclose(D(x, y), psi + inner, atol=1e-6)


def test_dcgan_projection_reads_the_features_the_output_layer_reads():
    torch.manual_seed(0)
    D = dcgan.Discriminator((1, 32, 32), d_channels=4, conditional="projection", n_classes=10)
    x, y = torch.randn(3, 1, 32, 32), torch.tensor([1, 5, 9])
    D.eval()
    h = D.net[:-1](x).flatten(1)  # the 4x4 features, flattened
    last = D.net[-1]  # a 4x4 convolution on 4x4 features: a linear map of them
    psi = h @ last.weight.flatten() + last.bias
    assert torch.allclose(D(x, y), psi + (D.class_head.embed.weight[y] * h).sum(1), atol=1e-5)


def test_acgan_head_gives_logits_and_its_weighted_cross_entropy():
    torch.manual_seed(0)
    D = resnet.Discriminator((3, 32, 32), d_channels=8, conditional="acgan", n_classes=4)
    x, y = torch.randn(3, 3, 32, 32), torch.tensor([0, 3, 1])
    out, logits = D(x, y, logits=True)
    assert out.shape == (3,) and logits.shape == (3, 4) and torch.equal(D(x, y), out)
    classes = Classes(tuple("abcd"), torch.full((4,), 0.25), "acgan", acgan_weight=0.5)
    judged, aux = classes.judge(D, x, y)
    manual = -0.5 * torch.log_softmax(logits, 1)[torch.arange(3), y].mean()
    assert torch.equal(judged, out) and torch.allclose(aux, manual)


def test_spectral_norm_also_normalizes_the_projection_embedding():
    D = mlp.Discriminator((2,), hidden_dim=8, conditional="projection", n_classes=3)
    SpectralNorm().prepare(D)
    weight = D.class_head.embed.weight
    assert torch.linalg.matrix_norm(weight, ord=2).item() == pytest.approx(1, abs=0.1)


@pytest.mark.parametrize("constraint", [GradientPenalty(gp_lambda=10.0), R1(r1_gamma=2.0)])
def test_penalties_differentiate_in_the_image_at_a_fixed_class(constraint):
    """The step hands the penalty the critic at the real batch's classes: its value is
    the penalty of x -> D(x, y), computed here by hand."""
    torch.manual_seed(0)
    D = mlp.Discriminator((2,), hidden_dim=8, conditional="projection", n_classes=3)
    real, fake, y = torch.randn(6, 2), torch.randn(6, 2), torch.tensor([0, 1, 2, 0, 1, 2])
    torch.manual_seed(1)
    got = constraint.penalty(lambda x: D(x, y), real, fake)
    torch.manual_seed(1)
    if isinstance(constraint, GradientPenalty):
        eps = torch.rand(6, 1)
        x = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x, y).sum(), x)
        expected = 10.0 * ((grad.norm(dim=1) - 1) ** 2).mean()
    else:
        x = real.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x, y).sum(), x)
        expected = 2.0 / 2 * grad.pow(2).sum(1).mean()
    assert torch.allclose(got, expected, atol=1e-6)


# --- training -----------------------------------------------------------------------------


def _gan(*overrides: str):
    return assemble(check(compose("trainer.device=cpu", "logger=none", *overrides)), CPU)


@pytest.mark.parametrize(
    "loss,kind",
    [("vanilla", "acgan"), ("wgan_gp", "projection"), ("sn", "projection"), ("wgan", "acgan")],
)
def test_every_loss_trains_a_conditional_gan(loss, kind, bars):
    gan, data = _gan(
        *image_data("mnist", bars), f"loss={loss}", "model=dcgan", f"model.conditional={kind}",
        "model.g_channels=8", "model.d_channels=8", "data.batch_size=8",
    )  # fmt: skip
    assert gan.classes.names == tuple("0123456789") and gan.classes.kind == kind
    guard = step.Guard("stop", World())
    out = [step.train_step(gan, data, n, guard, contextlib.nullcontext()) for n in (1, 2)][-1]
    assert torch.isfinite(out["loss/d"]) and torch.isfinite(out["loss/g"])
    assert ("loss/acgan" in out) == (kind == "acgan")


def test_the_critic_step_generates_the_real_batch_classes(bars):
    gan, data = _gan(*image_data("mnist", bars), "model=dcgan", "model.conditional=projection",
                     "model.g_channels=8", "model.d_channels=8", "loss=vanilla")  # fmt: skip
    asked = []
    gan.generator.register_forward_pre_hook(lambda m, args: asked.append(args[1].clone()))
    state = data.state_dict()
    step.train_step(gan, data, 1, step.Guard("stop", World()), contextlib.nullcontext())
    data.load_state_dict(state)
    assert torch.equal(asked[0], data.sample_labelled()[1])


BAD = {
    "points have no labels": (["model.conditional=projection"], "needs labelled images"),
    "packs": (["{mnist}", "model.conditional=acgan", "loss.pack=2"], "loss.pack=2 does not"),
    "unrolled steps": (["{mnist}", "model.conditional=acgan", "loss.unroll=2"], "loss.unroll=2"),
    "unknown kind": (["{mnist}", "model.conditional=cgan"], "model.conditional must be one of"),
    "negative weight": (["{mnist}", "model.acgan_weight=-1"], "model.acgan_weight must be"),
}


@pytest.mark.parametrize("case", BAD)
def test_conditioning_that_cannot_work_is_one_line(case, bars):
    args, message = BAD[case]
    mnist = " ".join(image_data("mnist", bars))
    args = [a for arg in args for a in arg.format(mnist=mnist).split()]
    with pytest.raises(UserError, match=re.escape(message)) as e:
        check(compose(*args))
    assert "\n" not in str(e.value)


def test_unlabelled_images_cannot_train_a_conditional_gan(tmp_path):
    for i in range(12):  # a flat folder: no classes
        Image.fromarray(np.full((16, 16, 3), 20 * i, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    folder = ["data=image_folder", f"data.path={tmp_path}", "data.image_size=16"]
    folder.append(f"data.cache_dir={tmp_path / 'packs'}")
    with pytest.raises(UserError, match="needs labelled data.*class subfolders"):
        _gan(*folder, "model.conditional=projection")


# --- metrics ------------------------------------------------------------------------------


def test_per_class_fid_against_closed_forms():
    torch.manual_seed(0)
    real = torch.randn(300, 3, dtype=torch.float64)
    labels = torch.arange(300) % 3
    shift = torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64)
    fake = real.clone()
    fake[labels == 1] += shift  # class 1 moved by a constant: FID = |shift|^2 = 4
    fake[labels == 2] *= 2  # class 2 scaled by 2: FID = |mu|^2 + tr(S) (1 + 4 - 2 * 2)
    scores = per_class_fid(real, labels, fake, labels, ("a", "b", "c"))
    two = real[labels == 2]
    trace = two.mean(0).square().sum().item() + torch.cov(two.T).trace().item()
    expected = [0.0, 4.0, trace]
    assert scores["fid/classifier_per_class"] == pytest.approx(sum(expected) / 3, abs=1e-6)
    assert scores["fid/classifier_worst"] == pytest.approx(max(expected), abs=1e-6)
    assert scores["fid/classifier_worst_class"] == "bc"[int(trace > 4)]


def test_class_metrics_only_for_conditional_generators(bars):
    cfg = check(compose(*image_data("mnist", bars)))
    data = MNIST(str(bars), download=False)
    objective = _gan(*image_data("mnist", bars), "model=dcgan")[0].objective
    assert REGISTRY["conditional"] not in for_run(cfg.metrics, data, objective)
    assert REGISTRY["conditional"] in for_run(cfg.metrics, data, objective, conditional=True)
    cfg.metrics.eval = ["conditional"]
    with pytest.raises(UserError, match="class-conditional generators only"):
        for_run(cfg.metrics, data, objective)


# --- a short run learns, and gan-sample draws by class ------------------------------------

CLASSIFIER_STEPS = 60  # the domain classifier reads these drawn digits after a few dozen batches
LEARN = [
    "data=fashion_mnist",  # Fashion-MNIST's files and class names, holding drawn digits
    "data.download=false",
    "model=dcgan",
    "model.g_channels=16",
    "model.d_channels=16",
    "model.conditional=projection",
    "loss=vanilla",
    "optim.g.lr=0.001",  # 5 times the DCGAN paper's: these digits are learnt in 200 steps
    "optim.d.lr=0.001",
    "trainer.steps=200",
    "trainer.eval_every=200",  # once, at the end
    "trainer.sample_every=200",
    "trainer.ckpt_every=0",
    "trainer.device=cpu",
    "data.heldout_size=400",
    f"metrics.classifier_steps={CLASSIFIER_STEPS}",
]


@pytest.fixture(scope="module")
def learnt(tmp_path_factory):
    """A conditional DCGAN of 200 steps on MNIST-like drawn digits (about 15 s)."""
    from gan_cli.cli.launch import fit_config as train

    root = tmp_path_factory.mktemp("conditional")
    write_mnist(root / "data", n_train=2000, n_test=400, folder="FashionMNIST", digits=True)
    train(compose(*LEARN, f"data.root={root / 'data'}", "logger.mode=offline"), root / "run")
    return root / "run"


def test_a_short_conditional_run_draws_the_classes_it_is_asked_for(learnt):
    final = jsonl(learnt / "metrics.jsonl")[-1]
    assert final["classes/accuracy"] > 0.3  # chance is 0.1
    assert final["fid/classifier_per_class"] >= 0
    assert final["fid/classifier_worst_class"] in MNIST_FASHION_NAMES
    logged = [row for row in wandb_history(learnt) if "classes/accuracy" in row]
    assert logged[-1]["classes/accuracy"] == final["classes/accuracy"]
    state = load_checkpoint(learnt / "checkpoints" / "last.pt")
    assert state["classes"]["names"] == list(MNIST_FASHION_NAMES)
    assert sum(state["classes"]["frequencies"]) == pytest.approx(1)
    grid = Image.open(learnt / "samples" / "step_0000200.png")
    assert grid.size == (2 + 8 * 34, 2 + 10 * 34)  # one row per class, 8 latents


MNIST_FASHION_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def _sample(learnt, tmp_path, capsys, monkeypatch, *args):
    out = tmp_path / "out"
    code, output = run_in_process(
        sample_main, [f"checkpoint={learnt}", f"out={out}", *args], tmp_path, capsys, monkeypatch
    )
    return code, output, out


def test_sample_by_index_and_by_name(learnt, tmp_path, capsys, monkeypatch):
    code, output, out = _sample(learnt, tmp_path, capsys, monkeypatch, "class=[1,Sneaker]", "n=5")
    assert code == 0, output
    with np.load(out / "samples.npz") as f:
        x, z, y = f["x"], f["z"], f["y"]
    assert x.shape == (10, 1, 32, 32) and z.shape == (10, 100) and y.tolist() == [1] * 5 + [7] * 5
    assert Image.open(out / "grid.png").size == (2 + 5 * 34, 2 + 2 * 34)  # a row per class
    code, output, out = _sample(learnt, tmp_path, capsys, monkeypatch, "class=3", "n=4",
                                "interpolate=2", "overwrite=true")  # fmt: skip
    assert code == 0 and Image.open(out / "interpolation.png").size == (2 + 10 * 34, 2 + 2 * 34)
    with np.load(out / "samples.npz") as f:
        assert f["y"].tolist() == [3] * 4


def test_sampled_classes_are_the_ones_asked_for(learnt, tmp_path, capsys, monkeypatch):
    """The domain classifier reads what gan-sample drew: well above chance."""
    from gan_cli.data.official import FashionMNIST
    from gan_cli.metrics import domain_classifier

    every = "class=[0,1,2,3,4,5,6,7,8,9]"
    code, output, out = _sample(
        learnt, tmp_path, capsys, monkeypatch, every, "n=20", "images=false"
    )
    assert code == 0, output
    with np.load(out / "samples.npz") as f:
        x, y = torch.from_numpy(f["x"]), torch.from_numpy(f["y"])
    data = FashionMNIST(str(learnt.parent / "data"), download=False, heldout_size=400)
    _, predicted = domain_classifier.for_data(data, CLASSIFIER_STEPS)(x)  # the run's
    assert (predicted == y).double().mean().item() > 0.3


def test_load_and_export_keep_the_classes(learnt, tmp_path, capsys, monkeypatch):
    """gan_cli.load draws gan-sample's samples by class; the exported program takes the
    class indices beside the latents and runs without gan-cli."""
    import gan_cli
    from tests.helpers import run_exported

    code, output, out = _sample(learnt, tmp_path, capsys, monkeypatch, "class=[1,Sneaker]", "n=3")
    assert code == 0, output
    G = gan_cli.load(learnt)
    assert G.classes == MNIST_FASHION_NAMES
    with np.load(out / "samples.npz") as f:
        x, z, y = (torch.from_numpy(f[k]) for k in ("x", "z", "y"))
    assert torch.equal(G.sample(3, classes=[1, "Sneaker"]), x)
    assert torch.equal(G.generate(z, classes=y), x)
    # (a batch of 3 is not bit for bit a part of the batch of 6: convolutions pick by size)
    torch.testing.assert_close(G.generate(z[:3], classes="Trouser"), x[:3])
    with pytest.raises(gan_cli.UserError, match="conditional: give classes="):
        G.generate(z)
    (program, *_) = G.export(tmp_path / "conditional.pt2")
    (exported,) = run_exported((program, out / "samples.npz"))
    # to float32's last digit: the program runs batch norm as torch.export decomposed it
    np.testing.assert_allclose(exported, x.numpy(), rtol=0, atol=1e-6)
    assert gan_cli.load(tmp_path / "conditional.safetensors").classes == MNIST_FASHION_NAMES


BAD_CLASSES = {
    "class=10": "class=10 is out of range: 10 classes, 0..9",
    "class=-1": "class=-1 is out of range",
    "class=Sneakers": "class=Sneakers is not a class of this checkpoint; classes: T-shirt/top|",
    "class=[]": "class=[]: name at least one class",
    "class=[1,99]": "class=99 is out of range",
}


@pytest.mark.parametrize("arg", BAD_CLASSES)
def test_bad_classes_are_one_line(arg, learnt, tmp_path, capsys, monkeypatch):
    code, output, out = _sample(learnt, tmp_path, capsys, monkeypatch, arg)
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and BAD_CLASSES[arg] in lines[0], lines
    assert not out.exists()


def test_an_unconditional_checkpoint_asked_for_a_class_is_one_line(tmp_path, capsys, monkeypatch):
    from gan_cli.cli.launch import fit_config as train
    from tests.helpers import FAST

    train(compose("logger=none", *FAST), tmp_path / "toy")
    capsys.readouterr()  # what training printed
    code, output, out = _sample(tmp_path / "toy", tmp_path, capsys, monkeypatch, "class=3")
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "generator is unconditional" in lines[0]


def test_a_conditional_run_resumes_exactly(bars, tmp_path):
    """The classes the generator step draws come from the saved random streams: a run
    resumed from its step-3 checkpoint ends with the weights of the one that went on."""
    from gan_cli.cli.launch import fit_config as train

    common = [
        *image_data("mnist", bars), "model=dcgan", "model.conditional=acgan", "loss=vanilla",
        "model.g_channels=8", "model.d_channels=8", "data.batch_size=8", "logger=none",
        "trainer.device=cpu", "trainer.steps=6", "trainer.ckpt_every=3",
        "trainer.eval_every=0", "trainer.sample_every=0", "trainer.ema_decay=0.5",
    ]  # fmt: skip
    train(compose(*common), tmp_path / "straight")
    middle = tmp_path / "straight" / "checkpoints" / "step_0000003.pt"
    train(compose(*common, f"trainer.resume={middle}"), tmp_path / "resumed")
    a, b = (
        load_checkpoint(tmp_path / r / "checkpoints" / "last.pt") for r in ("straight", "resumed")
    )
    for part in ("generator", "discriminator", "generator_ema"):
        for name, x in a[part].items():
            assert torch.equal(x, b[part][name]), (part, name)


def test_projection_finds_the_class_or_keeps_the_one_given(learnt, tmp_path, capsys, monkeypatch):
    """Samples of known classes are projected back, their classes found among the ten
    (as the samples of another class are far from them), in a few steps near them (the
    known-latent test of projection's precision is tests/test_sample.py's); class=
    fixes the class for all."""
    import gan_cli
    from gan_cli.trained.projection import distance

    G = gan_cli.load(learnt)
    x, _, y = G.sample(2, seed=4, classes=[0, 1, 5, 7], return_latents=True)
    found = G.project(x, steps=60, starts=32)
    apart = distance(x, x.roll(1, 0)).median()
    assert (found.distance <= apart / 5).float().mean() >= 0.75, (found.distance, apart)
    assert (found.y == y).float().mean() >= 0.75, (found.y, y)
    folder = tmp_path / "targets"
    folder.mkdir()
    for i, image in enumerate(x[:2]):  # two of class 0
        Image.fromarray(((image[0] + 1) * 127.5).round().byte().numpy()).save(folder / f"{i}.png")
    code, output, out = _sample(learnt, tmp_path, capsys, monkeypatch, f"project={folder}",
                                "class=Sneaker", "project.steps=5", "project.starts=4")  # fmt: skip
    assert code == 0, output
    with np.load(out / "projected.npz") as f:
        assert f["y"].tolist() == [7, 7] and f["z"].shape == (2, 100)
    code, output, _ = _sample(learnt, tmp_path, capsys, monkeypatch, f"project={folder}",
                              "class=[1,2]", "overwrite=true")  # fmt: skip
    assert code != 0 and "class=[1, 2]: project takes one class for all its targets" in output
