"""The domain classifier and the image metrics read in its features: checked against
independent computations (scipy, the prdc package), on files in the official formats."""

from __future__ import annotations

import numpy as np
import prdc as prdc_package
import pytest
import scipy.linalg
import torch
from omegaconf import OmegaConf

from gan_cli.cli.gan_train import main as train_main
from gan_cli.data.folder import ImageFolder
from gan_cli.data.memory import to_unit_range
from gan_cli.data.official import MNIST
from gan_cli.data.stacked import StackedMNIST
from gan_cli.metrics import REGISTRY, Evaluation, domain_classifier
from gan_cli.metrics.classifier import class_balance, frechet_distance, prdc
from gan_cli.metrics.classifier import floor as classifier_floor
from gan_cli.metrics.stacked import mode_histogram
from gan_cli.testing import class_pattern, write_mnist
from tests.helpers import FAST, jsonl, wandb_history

STEPS = 60  # the patterned digits are learnt in a few dozen batches


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> MNIST:
    """MNIST-format files whose images show their class (gan_cli.testing.class_pattern)."""
    root = tmp_path_factory.mktemp("patterned")
    write_mnist(root, n_train=600, n_test=400, patterns=True)
    return MNIST(str(root), download=False, heldout_size=200)


def scores(data, fake: torch.Tensor, k: int = 5) -> dict[str, float]:
    settings = OmegaConf.create({"classifier_steps": STEPS, "prdc_k": k})
    ev = Evaluation(None, None, None, data, fake, torch.Generator(), settings, 0)
    return REGISTRY["classifier"].compute(ev)


def test_frechet_distance_matches_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    y = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 0.5
    mu_x, mu_y = x.mean(0), y.mean(0)
    s_x, s_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(s_x @ s_y).real
    expected = ((mu_x - mu_y) ** 2).sum() + np.trace(s_x + s_y - 2 * root)
    got = frechet_distance(torch.from_numpy(x), torch.from_numpy(y))
    assert got == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(torch.from_numpy(x), torch.from_numpy(x)) == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_matches_the_prdc_package(k):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(200, 8))
    fake = rng.normal(size=(150, 8)) * 1.3 + 0.4
    expected = prdc_package.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    got = prdc(torch.from_numpy(real), torch.from_numpy(fake), k)
    for name, value in expected.items():
        assert got[f"prdc/{name}"] == pytest.approx(value, abs=1e-12), name


def test_class_balance_by_hand():
    predicted = torch.tensor([0] * 50 + [1] * 49 + [2])  # class 2 gets 1%, class 3 nothing
    frequencies = torch.full((4,), 0.25)
    got = class_balance(predicted, frequencies)
    p = np.array([0.5, 0.49, 0.01])
    assert got["classes/covered"] == 3
    assert got["classes/kl"] == pytest.approx((p * np.log(p / 0.25)).sum())


def test_labels_come_from_the_files(digits):
    assert digits.labels.names == tuple("0123456789")
    assert len(digits.labels.train) == 600 and len(digits.labels.test) == 400
    # each image shows its label's pattern (the writer's contract)
    bright = digits.train[:, 0, 2:30, 2:30] == 255
    for image, label in zip(bright[:20], digits.labels.train[:20], strict=True):
        assert (image.numpy() >= (class_pattern(int(label)) == 255)).all()
    assert digits.labels.frequencies().sum().item() == pytest.approx(1)


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_the_classifier_learns_is_cached_next_to_the_data_and_reused(digits, monkeypatch):
    net = domain_classifier.for_data(digits, STEPS)
    assert net.accuracy > 0.95
    assert net.path.parent == digits.cache_dir and net.path.is_file()
    domain_classifier._LOADED.clear()

    def no_training(*args, **kwargs):
        raise AssertionError("a cached classifier was trained again")

    monkeypatch.setattr(domain_classifier, "train", no_training)
    again = domain_classifier.for_data(digits, STEPS)
    assert again.accuracy == net.accuracy
    for a, b in zip(net.net.parameters(), again.net.parameters(), strict=True):
        assert torch.equal(a, b)
    # another recipe, or other labels, is another file: never a stale network
    assert domain_classifier.cache_name(digits, STEPS + 1) != net.path.name
    relabelled = MNIST(str(digits.cache_dir.parent), download=False)
    object.__setattr__(relabelled.labels, "train", relabelled.labels.train.roll(1))
    assert domain_classifier.cache_name(relabelled, STEPS) != net.path.name


def test_a_read_only_data_folder_caches_in_the_users_cache(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(digits, "cache_dir", tmp_path / "not-writable")
    (tmp_path / "not-writable").write_text("a file, not a folder")
    net = domain_classifier.for_data(digits, 3)  # a few steps: where it is kept is the point
    assert net.path.parent == tmp_path / "cache" / "gan-cli"


def test_real_heldout_images_score_near_the_floor_and_noise_far_from_it(digits, capsys):
    real = digits.test[200:].float() / 127.5 - 1  # 200 real test images, not the held-out ones
    noise = torch.rand(200, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    good, bad = scores(digits, real), scores(digits, noise)
    floor = classifier_floor(digits, domain_classifier.for_data(digits, STEPS), 5, 0)
    with capsys.disabled():
        print(f"\nfloor (training images): {floor}\nreal: {good}\nnoise: {bad}")
    assert good["fid/classifier"] < 2 * floor["fid/classifier"] < 0.1 * bad["fid/classifier"]
    for name in ("prdc/precision", "prdc/recall", "prdc/density", "prdc/coverage"):
        assert good[name] > 0.8 * floor[name] and bad[name] < 0.1, name
    assert good["classes/covered"] == floor["classes/covered"] == 10
    assert good["classes/kl"] < 0.1 and bad["classes/kl"] > 10 * good["classes/kl"]


@pytest.mark.filterwarnings("ignore:Matrix is singular")  # dead ReLU features
def test_the_floor_is_the_scores_of_real_training_images_by_scipy_and_prdc(digits):
    """floor(): the training images it draws (the seed's first N of a permutation) scored
    against the held-out ones, recomputed with scipy's sqrtm and the prdc package."""
    net = domain_classifier.for_data(digits, STEPS)
    got = classifier_floor(digits, net, 5, seed=3)
    n = len(digits.heldout)
    pick = torch.randperm(len(digits.train), generator=torch.Generator().manual_seed(3))[:n]
    real = net(digits.heldout)[0].double().numpy()
    same, probs = (t.double().numpy() for t in net.read(to_unit_range(digits.train[pick])))
    s_r, s_s = np.cov(real, rowvar=False), np.cov(same, rowvar=False)
    fid = ((real.mean(0) - same.mean(0)) ** 2).sum() + np.trace(
        s_r + s_s - 2 * scipy.linalg.sqrtm(s_r @ s_s).real
    )
    assert got["fid/classifier"] == pytest.approx(fid, rel=1e-4)
    expected = prdc_package.compute_prdc(real_features=real, fake_features=same, nearest_k=5)
    for name, value in expected.items():
        assert got[f"prdc/{name}"] == pytest.approx(value, abs=1e-9), name
    marginal = probs.mean(0)
    kl = np.where(probs > 0, probs * np.log(probs / marginal), 0).sum(1).mean()
    assert got["classes/score"] == pytest.approx(np.exp(kl), rel=1e-9)


def test_a_collapsed_generator_covers_one_class(digits):
    one = (digits.test[250:251].float() / 127.5 - 1).expand(200, -1, -1, -1)
    got = scores(digits, one)
    assert got["classes/covered"] == 1
    assert got["prdc/coverage"] < 0.1  # a point lies in about k of the N real balls: k/N
    share = digits.labels.frequencies()[digits.labels.test[250]].item()
    assert got["classes/kl"] == pytest.approx(-np.log(share))  # KL(one class || the data's)


def test_an_image_folder_is_labelled_by_its_class_subfolders(tmp_path):
    from PIL import Image

    for i in range(12):
        sub = tmp_path / ("cats" if i % 3 else "dogs") / ("x" if i % 2 else "")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((16, 16, 3), i * 20, dtype=np.uint8)).save(sub / f"{i}.png")
    packs = str(tmp_path / "packs")
    data = ImageFolder(str(tmp_path), image_size=16, heldout_size=2, cache_dir=packs)
    assert data.labels.names == ("cats", "dogs")
    labels = torch.cat([data.labels.train, data.labels.test])
    assert torch.bincount(labels).tolist() == [8, 4]
    assert len(data.labels.test) == len(data.heldout)
    (tmp_path / "loose.png").write_bytes((tmp_path / "cats" / "x" / "1.png").read_bytes())
    unlabelled = ImageFolder(str(tmp_path), image_size=16, cache_dir=packs)
    assert unlabelled.labels is None  # not all in class folders


# --- Stacked MNIST ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stacked(digits) -> StackedMNIST:
    return StackedMNIST(str(digits.cache_dir.parent), download=False, n_train=500, heldout_size=100)


def test_stacked_mnist_stacks_three_digits_and_labels_the_stack(stacked, digits):
    assert stacked.shape == (3, 32, 32) and len(stacked.train) == 500
    assert len(stacked.test) == len(digits.test) and len(stacked.heldout) == 100
    assert len(stacked.labels.names) == 1000 and stacked.cache_dir == digits.cache_dir
    for image, label in zip(stacked.train[:30], stacked.labels.train[:30], strict=True):
        a, b, c = int(label) // 100, int(label) // 10 % 10, int(label) % 10
        for channel, digit in zip(image, (a, b, c), strict=True):
            assert (channel[2:30, 2:30].numpy() >= class_pattern(digit)).all()
    again = StackedMNIST(str(digits.cache_dir.parent), download=False, n_train=500, seed=7)
    assert torch.equal(again.train, stacked.train)  # one data set, whatever the run's seed


def test_mode_histogram_by_hand():
    assert mode_histogram(torch.zeros(5, dtype=torch.long)) == {
        "modes/captured": 1.0,
        "modes/kl": pytest.approx(np.log(1000)),
    }
    every = mode_histogram(torch.arange(2000) % 1000)
    assert every == {"modes/captured": 1000.0, "modes/kl": pytest.approx(0, abs=1e-12)}
    half = mode_histogram(torch.arange(1000) % 500)
    assert half["modes/captured"] == 500 and half["modes/kl"] == pytest.approx(np.log(2))


class Replay(torch.nn.Module):
    """A 'generator' that draws real stacks: (N, z_dim) -> images of `pool`, in turn."""

    z_dim = 4

    def __init__(self, pool: torch.Tensor) -> None:
        super().__init__()
        self.pool, self.next = pool, 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        idx = (torch.arange(len(z)) + self.next) % len(self.pool)
        self.next += len(z)
        return self.pool[idx].float() / 127.5 - 1


def stacked_scores(data, generator) -> dict[str, float]:
    # 1,000 draws: each of the 500 training stacks twice under Replay
    settings = OmegaConf.create({"classifier_steps": STEPS, "stacked_samples": 1000})
    ev = Evaluation(generator, None, None, data, None, torch.Generator(), settings, 0)
    return REGISTRY["stacked_modes"].compute(ev)


def test_stacked_modes_count_what_the_generator_draws(stacked):
    real = stacked_scores(stacked, Replay(stacked.train))
    distinct = len(torch.unique(stacked.labels.train))
    assert real["modes/captured"] == pytest.approx(distinct, abs=3)  # the classifier errs rarely
    collapsed = stacked_scores(stacked, Replay(stacked.train[:1]))
    assert collapsed == {"modes/captured": 1.0, "modes/kl": pytest.approx(np.log(1000))}


class PatternReader:
    """Reads a patterned digit (gan_cli.testing.class_pattern) from its pixels, as the domain
    classifier's stand-in: (features, predicted digits) of images (N, 1, 32, 32)."""

    path = "pattern reader"

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bars = torch.stack([torch.from_numpy(class_pattern(c) > 0) for c in range(10)])
        pixels = images[:, 0, 2:30, 2:30]  # (N, 28, 28)
        lit = (pixels[:, None] * bars).flatten(2).sum(2) / bars.flatten(1).sum(1)
        return lit, lit.argmax(dim=1)


def test_the_stacked_floor_counts_the_modes_of_real_stacks(stacked):
    """floor/modes/* against the histogram of the true labels of the same draw."""
    from gan_cli.metrics.stacked import floor as stacked_floor

    got = stacked_floor(stacked, PatternReader(), 3000, seed=5)
    pick = torch.randint(len(stacked.train), (3000,), generator=torch.Generator().manual_seed(5))
    counts = np.bincount(stacked.labels.train[pick].numpy(), minlength=1000)
    p = counts[counts > 0] / counts.sum()
    assert got["floor/modes/captured"] == len(p)
    assert got["floor/modes/kl"] == pytest.approx(float((p * np.log(p * 1000)).sum()), rel=1e-9)
    # 500 stacks drawn 3,000 times: at most 500 modes, far from KL 0
    assert got["floor/modes/captured"] <= 500 and got["floor/modes/kl"] > 0.5


def test_stacked_class_accuracy_reads_each_channel(stacked):
    """A conditional generator on Stacked MNIST that draws the stack it is asked for
    (here: the real test stacks at their labels) scores about 1; asked for other
    classes, about 0."""
    settings = OmegaConf.create({"classifier_steps": STEPS})
    fake, labels = to_unit_range(stacked.test[:300]), stacked.labels.test[:300]
    right = Evaluation(None, None, None, stacked, fake, None, settings, 0, fake_labels=labels)
    assert REGISTRY["conditional"].compute(right)["classes/accuracy"] > 0.95
    wrong = Evaluation(
        None, None, None, stacked, fake, None, settings, 0, fake_labels=labels.flip(0)
    )
    assert REGISTRY["conditional"].compute(wrong)["classes/accuracy"] < 0.05


def test_prdc_with_fewer_samples_than_k_shrinks_k():
    rng = np.random.default_rng(3)
    real, fake = (
        torch.from_numpy(rng.normal(size=(4, 4))),
        torch.from_numpy(rng.normal(size=(9, 4))),
    )
    assert prdc(real, fake, k=5) == prdc(real, fake, k=3)  # each real point has 3 neighbours
    assert all(np.isnan(v) for v in prdc(real[:1], fake, k=5).values())


# --- through the command ----------------------------------------------------------------------

TINY_DCGAN = ["model=dcgan", "model.g_channels=8", "model.d_channels=8", "model.z_dim=16"]


def test_a_run_on_labelled_images_logs_the_classifier_metrics(digits, workdir, in_process):
    root = digits.cache_dir.parent
    data = ["data=mnist", f"data.root={root}", "data.download=false"]
    result = in_process(
        train_main, *data, *TINY_DCGAN, f"metrics.classifier_steps={STEPS}", *FAST, cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = [p.parent for p in workdir.rglob("metrics.jsonl")]
    keys = REGISTRY["classifier"].keys
    evaluated = [row for row in jsonl(run_dir / "metrics.jsonl") if "fid/classifier" in row]
    assert [row["step"] for row in evaluated] == [1, 2]
    assert all(k in row for k in keys if not k.startswith("floor/") for row in evaluated)
    floor = [k for k in keys if k.startswith("floor/")]  # the real data's, once a run
    assert [all(k in row for k in floor) for row in evaluated] == [True, False]
    assert 1 <= evaluated[0]["floor/classes/score"] <= 10
    logged = [row for row in wandb_history(run_dir) if "fid/classifier" in row]
    assert [row["fid/classifier"] for row in logged] == [row["fid/classifier"] for row in evaluated]
    assert "domain classifier: test accuracy" in (run_dir / "train.log").read_text()


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_a_run_on_stacked_mnist_counts_its_modes(digits, workdir, in_process):
    root = digits.cache_dir.parent
    data = ["data=stacked_mnist", f"data.root={root}", "data.download=false", "data.n_train=500"]
    settings = [f"metrics.classifier_steps={STEPS}", "metrics.stacked_samples=1000"]
    result = in_process(
        train_main, *data, *TINY_DCGAN, *settings, *FAST, "logger=none", cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = [p.parent for p in workdir.rglob("metrics.jsonl")]
    last = [row for row in jsonl(run_dir / "metrics.jsonl") if "modes/captured" in row][-1]
    assert 1 <= last["modes/captured"] <= 1000 and 0 <= last["modes/kl"] <= np.log(1000) + 1e-9
    assert "fid/classifier" not in last  # stacked stacks are counted as modes, not classes
