"""The tests' fixtures (their helpers are in tests/helpers.py), and how make test orders
the modules over its workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_cli.testing import write_cifar10, write_mnist
from tests.helpers import run_in_process, write_image_folder

os.environ.setdefault("COLUMNS", "200")  # the width clean_env gives a command, before rich reads it
if os.environ.get("PYTEST_XDIST_WORKER"):  # make test runs one worker per core:
    torch.set_num_threads(1)  # more threads per worker would only fight over the cores
# make test hands each worker a whole module at a time (--dist loadscope, so a module's
# trained fixtures are made once); the longest modules go first, so that no worker is
# left with one of them at the end while the other idles.
LONGEST_FIRST = (  # by their time in make test (measured on 2 cores), longest first
    "test_conditional",
    "test_doc_runs",
    "test_cli",
    "test_doctor",
    "test_images",
    "test_sweep",
    "test_theory",
    "test_sample",
    "test_classifier",
    "test_config",
    "test_docs",
    "test_resume",
    "test_remedies",
    "test_bad_input",
    "test_presets",
    "test_own_images",
    "test_gan_plot",
    "test_trackers",
    "test_adagan",
    "test_experiments",
    "test_training_options",
    "test_api",
    "test_preemption",
    "test_wandb_failures",
    "test_distributed",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1]
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a module stays


# A tiny schedule: every cadence fires, so every output is produced within a few steps.
@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty current directory for a command, as a user's project folder would be."""
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def image_root(tmp_path_factory) -> Path:
    """One folder with MNIST, Fashion-MNIST, CIFAR-10 and a PNG/JPEG tree, as a user would
    have them."""
    root = tmp_path_factory.mktemp("data")
    write_mnist(root)
    write_mnist(root, folder="FashionMNIST")
    write_cifar10(root)
    write_image_folder(root / "folder")
    return root


@pytest.fixture(autouse=True)
def _no_wandb_service_left():
    """A W&B service that an in-process run started stops with its test, and its address
    (WANDB_SERVICE, which monkeypatch may have put back from an earlier test) goes too:
    the next test's run starts its own, as a command's process would."""
    yield
    if "wandb" in sys.modules:
        sys.modules["wandb"].teardown()
    os.environ.pop("WANDB_SERVICE", None)


@pytest.fixture
def in_process(capsys, monkeypatch):
    """Run a command's main() in this process with the arguments, folder and environment
    a subprocess would get -> a CompletedProcess, like `gan_train`. The code is the
    console script's; what is saved is the start: a run in a warm process takes a second
    or two where a fresh `gan-train` takes 7 (Python's imports, torch's compiler module).
    Tests of what only a process shows (signals, kill -9, the installed entry points,
    torchrun, submitit) and the one end-to-end run of each capability use `gan_train`.

        result = in_process(train.main, "trainer.steps=2", cwd=workdir)
    """

    def run(main, *args: str, cwd: Path, env: dict[str, str] | None = None):
        for key in [k for k in os.environ if k.startswith("WANDB_")]:
            monkeypatch.delenv(key)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        code, _ = run_in_process(main, list(args), cwd, capsys, monkeypatch, keep=True)
        if "wandb" in sys.modules:  # the W&B service writes the run's file out as it stops
            sys.modules["wandb"].teardown()  # (as it does when a command's process ends)
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory) -> str:
    """A weights file for the real InceptionV3 architecture, random weights (the real ones
    need the network): it runs the whole FID path as a user with a local copy would."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    from gan_cli.metrics.fid import inception

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fe, "load_state_dict_from_url", lambda *a, **k: None)
        mp.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        torch.manual_seed(0)
        state = inception(None).state_dict()
    path = tmp_path_factory.mktemp("weights") / "inception.pth"
    torch.save(state, path)
    return str(path)


def pytest_terminal_summary(terminalreporter) -> None:
    """How much of the manual the tests run: every command and Python block it shows."""
    from tests import doc_pages

    n = doc_pages.count()
    terminalreporter.write_line(
        f"README.md and docs/ show {n} commands and Python blocks; tests/test_doc_runs.py "
        "runs each (the refused ones and the help texts with make test, the rest with the "
        "slow tests)"
    )
