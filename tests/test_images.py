"""Image data, the convolutional models, and the image metrics."""

import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import ot
import pytest
import scipy.linalg
import scipy.stats
import torch
import yaml
from PIL import Image
from torch import nn

from gan_cli.cli.gan_train import main as train_main
from gan_cli.cli.launch import fit_config as train
from gan_cli.config.spec import specify
from gan_cli.core.errors import UserError
from gan_cli.data.folder import ImageFolder
from gan_cli.data.official import CIFAR10, MNIST, FashionMNIST
from gan_cli.metrics.fid import fid_kid
from gan_cli.metrics.sliced import sliced_w1
from tests.helpers import FAST, compose, image_data, jsonl

IMAGE_DATA = ["mnist", "cifar10", "image_folder"]
MODELS = ["mlp", "dcgan", "resnet"]
LOSSES = ["vanilla", "wgan", "wgan_gp", "sn", "fgan"]


def tiny(model: str) -> list[str]:
    """Small widths, so every combination runs in a blink."""
    widths = (
        ["model.hidden_dim=32"] if model == "mlp" else ["model.g_channels=8", "model.d_channels=8"]
    )
    return [f"model={model}", "model.z_dim=16", *widths]


def test_mnist_loads_the_official_gzip_files(image_root):
    data = MNIST(str(image_root), download=False, batch_size=10, heldout_size=5)
    assert data.shape == (1, 32, 32)
    assert data.images.shape == (30, 1, 32, 32) and data.images.dtype == torch.uint8
    assert data.heldout.shape == (5, 1, 32, 32)
    x = data.sample()
    assert x.shape == (10, 1, 32, 32) and x.min() >= -1 and x.max() <= 1
    # 28x28 zero-padded to 32x32: a 2-pixel black border, the digit unscaled
    assert (data.images[:, :, :2] == 0).all() and (data.images[:, :, :, -2:] == 0).all()


def test_mnist_pixels_survive_the_round_trip(image_root, tmp_path):
    from gan_cli.testing import write_mnist

    expected = write_mnist(tmp_path)
    data = MNIST(str(tmp_path), download=False, heldout_size=5)
    assert np.array_equal(data.images[:, 0, 2:30, 2:30].numpy(), expected)


def test_fashion_mnist_reads_torchvisions_layout(tmp_path):
    from gan_cli.testing import write_mnist

    expected = write_mnist(tmp_path, folder="FashionMNIST")  # <root>/FashionMNIST/raw/
    data = FashionMNIST(str(tmp_path), download=False, heldout_size=5)
    assert data.kind == "images" and data.shape == (1, 32, 32)
    assert np.array_equal(data.images[:, 0, 2:30, 2:30].numpy(), expected)
    with pytest.raises(UserError, match="MNIST not found .*MNIST/raw"):
        MNIST.prepare(str(tmp_path), download=False)  # MNIST's own folder is empty here
    with pytest.raises(UserError, match="Fashion-MNIST not found .*FashionMNIST/raw"):
        FashionMNIST.prepare(str(tmp_path / "nowhere"), download=False)


def test_cifar10_loads_a_subset_in_the_official_format(image_root, tmp_path):
    from gan_cli.testing import write_cifar10

    first = write_cifar10(tmp_path)  # md5 sums differ from the real files': still loads
    data = CIFAR10(str(tmp_path), download=False, batch_size=4, heldout_size=8)
    assert data.shape == (3, 32, 32) and len(data.images) == 30 and len(data.test) == 20
    assert np.array_equal(data.images[0].numpy(), first[0].reshape(3, 32, 32))
    x = data.sample()
    assert x.shape == (4, 3, 32, 32) and -1 <= x.min() and x.max() <= 1


@pytest.mark.parametrize("channels", [1, 3])
def test_image_folder_resizes_crops_and_holds_out(image_root, channels):
    data = ImageFolder(
        str(image_root / "folder"),
        image_size=16,
        channels=channels,
        heldout_size=100,
        cache_dir=str(image_root / "packs"),
    )
    assert data.shape == (channels, 16, 16)
    assert len(data.images) + len(data.heldout) == 24 and len(data.heldout) == 2  # a tenth
    assert data.heldout.min() >= -1 and data.heldout.max() <= 1


def test_scaling_is_exact():
    from gan_cli.data.memory import to_unit_range

    u8 = torch.tensor([0, 127, 128, 255], dtype=torch.uint8)
    assert to_unit_range(u8).tolist() == pytest.approx(
        [-1, 127 / 127.5 - 1, 128 / 127.5 - 1, 1], abs=1e-6
    )


# make test runs each model with each loss once, the data set turning with them; the slow
# tests the rest of the grid
COMBINATIONS = [
    pytest.param(
        data, model, loss, marks=() if (i + j) % len(IMAGE_DATA) == k else pytest.mark.slow
    )
    for k, data in enumerate(IMAGE_DATA)
    for i, model in enumerate(MODELS)
    for j, loss in enumerate(LOSSES)
]


@pytest.mark.parametrize(("data", "model", "loss"), COMBINATIONS)
def test_every_sensible_combination_runs_two_steps(data, model, loss, image_root, tmp_path):
    cfg = compose(
        *image_data(data, image_root),
        f"loss={loss}",
        "logger=none",
        *tiny(model),
        *FAST,
        "trainer.sample_every=2",
    )
    metrics = train(cfg, tmp_path)
    assert math.isfinite(metrics["wasserstein/sliced"]) and math.isfinite(metrics["loss/d"])
    grid = Image.open(tmp_path / "samples" / "step_0000002.png")
    assert grid.size == (8 * 34 + 2, 8 * 34 + 2)  # 64 images of 32x32, 8 a row, 2-pixel padding
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    names = " ".join(state["discriminator"])
    if loss == "sn":
        assert "parametrizations.weight.original" in names
    if loss in ("wgan_gp", "sn"):  # the loss removed batch norm from the critic
        assert "running_mean" not in names


def test_critic_norm_is_decided_by_the_loss_and_recorded(image_root, tmp_path, monkeypatch):
    from tests.helpers import wandb_records

    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    cfg = compose(
        *image_data("cifar10", image_root),
        "loss=wgan_gp",
        "logger.mode=offline",
        *tiny("dcgan"),
        *FAST,
    )
    train(cfg, tmp_path)
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    # dcgan asks for batch norm; the gradient penalty gets layer norm (GroupNorm(1, C)) instead
    assert not any("running_mean" in k for k in state["discriminator"])
    assert sum(v.dim() == 1 and "net.3" in k for k, v in state["discriminator"].items()) == 2
    # and every record of the run says so: the checkpoint, config.yaml and W&B
    (run,) = [r.run for r in wandb_records(tmp_path) if r.WhichOneof("record_type") == "run"]
    wandb_config = {item.key: json.loads(item.value_json) for item in run.config.update}
    recorded = yaml.safe_load((tmp_path / "config.yaml").read_text())
    for config in (state["config"], recorded, wandb_config):
        assert config["model"]["d_norm"] == config["model"]["discriminator"]["norm"] == "layer"


@pytest.mark.parametrize(
    ("overrides", "model"),
    [
        (["model=dcgan"], "dcgan"),
        (["model=resnet"], "resnet"),
        (["model=dcgan", "data.image_size=48"], "dcgan"),
    ],
)
def test_models_that_cannot_fit_the_data_stop_with_one_line(overrides, model, image_root):
    data = (
        [] if "data.image_size=48" not in overrides else image_data("image_folder", image_root)[:2]
    )
    with pytest.raises(UserError, match=rf"model={model} does not fit .*model=mlp fits any data"):
        specify(compose(*data, *overrides))


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
@pytest.mark.parametrize("download", ["true", "false"])
def test_no_files_and_no_network_is_one_clear_line(name, download, workdir, in_process):
    result = in_process(train_main, f"data={name}", f"data.download={download}", cwd=workdir)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gan-train: error:"), lines
    folder = {
        "mnist": "MNIST/raw",
        "fashion_mnist": "FashionMNIST/raw",
        "cifar10": "cifar-10-batches-py",
    }[name]
    assert "not found" in lines[0] and folder in lines[0] and "data.root" in lines[0]
    assert list(workdir.iterdir()) == []  # nothing written: no data/, no outputs/


def test_image_folder_without_a_path_is_one_clear_line():
    with pytest.raises(UserError, match="data.path"):
        specify(compose("data=image_folder", "model=dcgan"))


# --- sliced Wasserstein ---------------------------------------------------------------------


def test_sliced_w1_is_zero_for_identical_sets_and_grows_with_a_shift():
    x = torch.rand(200, 3, 8, 8) * 2 - 1
    assert sliced_w1(x, x) == 0.0
    assert sliced_w1(x, x[torch.randperm(200)]) == pytest.approx(0.0, abs=1e-6)
    shifts = [sliced_w1(x, x + s) for s in (0.1, 0.2, 0.4)]
    assert shifts[0] < shifts[1] < shifts[2]
    # a shift by s in every pixel projects to s * sum(theta): the mean of |s sum(theta)|
    assert shifts[1] == pytest.approx(2 * shifts[0], rel=1e-5)


def test_sliced_w1_agrees_with_pot_and_the_1d_formula():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 5)), rng.normal(1.0, 2.0, size=(300, 5))
    tx, ty = torch.tensor(x), torch.tensor(y)
    ours = sliced_w1(tx, ty, n_projections=50, seed=3)
    gen = torch.Generator().manual_seed(3)
    theta = torch.randn(5, 50, generator=gen)
    theta = (theta / theta.norm(dim=0, keepdim=True)).double().numpy()
    pot = ot.sliced_wasserstein_distance(x, y, n_projections=50, p=1, projections=theta)
    exact = np.mean([scipy.stats.wasserstein_distance(x @ t, y @ t) for t in theta.T])
    assert ours == pytest.approx(pot, rel=1e-5)
    assert ours == pytest.approx(exact, rel=1e-5)


# --- FID and KID ----------------------------------------------------------------------------


def _stand_in_features(n: int, seed: int, shift: float) -> torch.Tensor:
    """Features from a small random conv net standing in for Inception."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
    images = torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed)) + shift
    with torch.no_grad():
        return net(images).double()


def test_fid_and_kid_match_an_independent_computation():
    real, fake = _stand_in_features(400, 1, 0.0), _stand_in_features(300, 2, 0.3)
    fid = fid_kid(real, fake, kid_subsets=1, kid_subset_size=300)[0]

    r, f = real.numpy(), fake.numpy()
    mu_r, mu_f = r.mean(0), f.mean(0)
    cov_r, cov_f = np.cov(r, rowvar=False), np.cov(f, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_r @ cov_f).real
    expected_fid = np.sum((mu_r - mu_f) ** 2) + np.trace(cov_r + cov_f - 2 * covmean)
    assert fid == pytest.approx(expected_fid, rel=1e-4)

    # KID: the unbiased MMD^2 with the kernel (x.y / d + 1)^3. With one subset as large as
    # both sets every sample is used (in a random order, which MMD^2 does not see).
    kid = fid_kid(real[:300], fake, kid_subsets=1, kid_subset_size=300)[1]
    a, b, d = r[:300], f, r.shape[1]
    kaa, kbb, kab = ((u @ v.T / d + 1) ** 3 for u, v in ((a, a), (b, b), (a, b)))
    m = len(a)
    expected_kid = (kaa.sum() - np.trace(kaa) + kbb.sum() - np.trace(kbb)) / (m * (m - 1))
    expected_kid -= 2 * kab.mean()
    assert kid == pytest.approx(expected_kid, rel=1e-6)


@pytest.mark.slow
def test_fid_and_kid_at_the_end_of_training(image_root, inception_weights, tmp_path):
    cfg = compose(
        *image_data("cifar10", image_root),
        *tiny("dcgan"),
        "logger=none",
        *FAST,
        "metrics.fid=true",
        "metrics.n_samples=12",
        f"metrics.inception_weights={inception_weights}",
    )
    metrics = train(cfg, tmp_path)
    assert math.isfinite(metrics["fid"]) and metrics["fid"] > 0
    assert math.isfinite(metrics["kid"]) and metrics["fid/n_samples"] == 12
    # the Inception score of the samples and of the real images, from 1 to its 1008 classes
    assert 1 <= metrics["is"] <= 1008 and 1 <= metrics["floor/is"] <= 1008
    assert metrics["is/std"] >= 0
    last = jsonl(tmp_path / "metrics.jsonl")[-1]
    assert last["step"] == 2 and last["fid/reference"] == "test" and last["fid"] == metrics["fid"]


def test_fid_without_weights_or_network_warns_and_training_finishes(
    image_root, tmp_path, caplog, monkeypatch
):
    from urllib.error import URLError

    import torch_fidelity.feature_extractor_inceptionv3 as fe

    def offline(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(fe, "load_state_dict_from_url", offline)
    cfg = compose(
        *image_data("cifar10", image_root), *tiny("dcgan"), "logger=none", *FAST, "metrics.fid=true"
    )
    metrics = train(cfg, tmp_path)
    assert "fid" not in metrics and math.isfinite(metrics["loss/g"])
    assert "metrics.fid: no FID/KID" in caplog.text and "metrics.inception_weights" in caplog.text
    assert (tmp_path / "checkpoints" / "last.pt").is_file()


def test_fid_needs_image_data():
    with pytest.raises(UserError, match="metrics.fid=true applies to images only"):
        specify(compose("metrics.fid=true"))


def test_image_grids_and_sliced_w1_reach_wandb(image_root, tmp_path, monkeypatch):
    from tests.helpers import wandb_history

    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    cfg = compose(*image_data("mnist", image_root), *tiny("dcgan"), "logger.mode=offline", *FAST)
    train(cfg, tmp_path)
    history = wandb_history(tmp_path)
    images = [r for r in history if r.get("samples/_type") == "image-file"]
    assert [r["_step"] for r in images] == [1, 2]
    assert (images[0]["samples/width"], images[0]["samples/height"]) == (8 * 34 + 2, 8 * 34 + 2)
    assert [r["_step"] for r in history if "wasserstein/sliced" in r] == [1, 2]


# --- data files that are there but wrong -----------------------------------------------------


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # on load: open(marker, "w"), which creates the file
        return (open, (self.marker, "w"))


def _spoil(root: Path, name: str, tmp_path: Path) -> Path:
    """A copy of the official-format files with one file made wrong; returns that file."""
    from gan_cli.testing import write_cifar10, write_mnist

    if name.startswith("mnist"):
        write_mnist(root)
        target = root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
        good = target.read_bytes()
        spoiled = {
            "mnist truncated": good[: len(good) // 2],
            "mnist labels for images": (target.parent / "train-labels-idx1-ubyte.gz").read_bytes(),
            "mnist text": b"not an idx file\n",
        }[name]
    else:
        write_cifar10(root)
        target = root / "cifar-10-batches-py" / "data_batch_2"
        spoiled = {
            "cifar wrong keys": pickle.dumps({"images": "x", "labels": []}, protocol=2),
            "cifar truncated": target.read_bytes()[:100],
            "cifar payload": pickle.dumps({"data": _Payload(str(tmp_path / "PAYLOAD_RAN"))}),
        }[name]
    target.write_bytes(spoiled)
    return target


SPOILED = {
    "mnist truncated": "unreadable",
    "mnist labels for images": "its header is 00000801; expected an IDX file of unsigned bytes",
    "mnist text": "unreadable (Not a gzipped file",
    "cifar wrong keys": "no 'data' array of bytes; expected a pickled dict with 'data'",
    "cifar truncated": "not a readable pickle",
    "cifar payload": "refused: it names io.open, which CIFAR-10 never does; nothing in it ran",
}


@pytest.mark.parametrize("name", SPOILED)
def test_a_data_file_that_is_wrong_is_one_line_naming_it(name, tmp_path, capsys, monkeypatch):
    from gan_cli.cli.gan_train import main
    from tests.helpers import run_in_process

    root = tmp_path / "data"
    target = _spoil(root, name, tmp_path)
    data = "mnist" if name.startswith("mnist") else "cifar10"
    args = [f"data={data}", f"data.root={root}", "data.download=false", "logger=none"]
    code, output = run_in_process(main, [*args, "hydra.run.dir=run"], tmp_path, capsys, monkeypatch)
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"gan-train: error: {target}:") and SPOILED[name] in lines[0]
    assert not (tmp_path / "PAYLOAD_RAN").exists()


def test_the_cifar_payload_is_real(tmp_path):
    """The booby-trapped batch above runs its payload under a plain pickle.load."""
    target = _spoil(tmp_path / "data", "cifar payload", tmp_path)
    pickle.loads(target.read_bytes())
    assert (tmp_path / "PAYLOAD_RAN").exists()


def test_inception_weights_that_do_not_download_are_the_one_warning_line(capsys, monkeypatch):
    """torch.hub announces its download on stderr before it fails; without network the
    user sees the one warning of metrics.fid, not that notice beside it."""
    import sys
    import urllib.error

    import torch_fidelity.feature_extractor_inceptionv3 as fe

    from gan_cli.metrics.fid import InceptionUnavailable, inception

    def offline(url, *args, **kwargs):
        sys.stderr.write(f'Downloading: "{url}" to /somewhere\n')  # as torch.hub does
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(fe, "load_state_dict_from_url", offline)
    capsys.readouterr()
    with pytest.raises(InceptionUnavailable, match="URLError"):
        inception(None)
    assert capsys.readouterr().err == ""
