"""The Python API: gan_cli.train makes the run gan-train makes, gan_cli.load samples what
gan-sample samples, a wrong override raises the command's line, `import gan_cli` is
cheap, and an exported generator runs where gan-cli is not installed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import gan_cli
from gan_cli.cli import gan_train as train
from gan_cli.cli import sample
from tests.helpers import (
    clean_env,
    image_data,
    jsonl,
    run_exported,
    run_in_process,
)

TOY = ["trainer.steps=10", "trainer.eval_every=5", "trainer.sample_every=10"]
TOY += ["data.heldout_size=200", "model.hidden_dim=32", "logger=none"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A toy run made by gan_cli.train, with its final metrics."""
    folder = tmp_path_factory.mktemp("api") / "toy"
    return gan_cli.train(*TOY, run_dir=folder)


def _gan_sample(run, out, capsys, monkeypatch, *args):
    code, output = run_in_process(
        sample.main, [f"checkpoint={run}", f"out={out}", *args], out.parent, capsys, monkeypatch
    )
    assert code == 0, output
    return np.load(out / "samples.npz")


def test_import_gan_cli_imports_neither_torch_nor_wandb():
    code = "import sys, gan_cli; print(sorted(m for m in ('torch', 'wandb') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
    assert callable(gan_cli.load) and "train" in dir(gan_cli)


def test_train_makes_the_run_the_command_makes(toy, tmp_path, capsys, monkeypatch):
    run_dir, metrics = toy
    assert (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / "train.log").is_file()
    code, output = run_in_process(
        train.main, [*TOY, "hydra.run.dir=cmd"], tmp_path, capsys, monkeypatch
    )
    assert code == 0, output

    def untimed(rows):  # the seconds a run took differ; every number it learnt may not
        return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]

    api_rows, command_rows = (
        jsonl(run_dir / "metrics.jsonl"),
        jsonl(tmp_path / "cmd" / "metrics.jsonl"),
    )
    assert untimed(api_rows) == untimed(command_rows)
    assert metrics["wasserstein/exact"] == api_rows[-1]["wasserstein/exact"]


@pytest.mark.parametrize("override", ["trainer.stpes=1", "loss=nope", "trainer.steps=-3"])
def test_a_wrong_override_raises_the_commands_line(override, tmp_path, capsys, monkeypatch):
    code, output = run_in_process(train.main, [override], tmp_path, capsys, monkeypatch)
    assert code == 2
    (line,) = [x for x in output.splitlines() if x.strip()]
    with pytest.raises(gan_cli.UserError) as raised:
        gan_cli.train(override, run_dir=tmp_path / "never")
    assert line == f"gan-train: error: {raised.value}"
    assert not (tmp_path / "never").exists()


def test_load_samples_what_gan_sample_writes(toy, tmp_path, capsys, monkeypatch):
    G = gan_cli.load(toy.run_dir)
    files = _gan_sample(toy.run_dir, tmp_path / "out", capsys, monkeypatch, "seed=7")
    x = G.sample(64, seed=7)
    assert torch.equal(x, torch.from_numpy(files["x"]))
    assert torch.equal(G.generate(torch.from_numpy(files["z"])), x)
    assert G.z_dim == 2 and G.classes is None and G.config.trainer.steps == 10
    assert isinstance(G.module, torch.nn.Module)
    from_file = gan_cli.load(toy.run_dir / "checkpoints" / "last.pt")  # a file, not the folder
    assert torch.equal(from_file.sample(5), G.sample(5))


def test_generator_mistakes_are_one_line(toy):
    G = gan_cli.load(toy.run_dir)
    with pytest.raises(gan_cli.UserError, match=r"z is \(B, 2\); got \(3, 5\)"):
        G.generate(torch.zeros(3, 5))
    with pytest.raises(gan_cli.UserError, match="unconditional"):
        G.sample(4, classes=1)
    with pytest.raises(gan_cli.UserError, match="no such file or folder"):
        gan_cli.load(toy.run_dir / "nothing")


@pytest.fixture(scope="module")
def dcgan(tmp_path_factory, image_root):
    folder = tmp_path_factory.mktemp("api") / "dcgan"
    model = ["model=dcgan", "model.g_channels=8", "model.d_channels=8"]  # z_dim 100
    short = ["trainer.steps=2", "trainer.eval_every=2", "data.heldout_size=100", "logger=none"]
    return gan_cli.train(*image_data("mnist", image_root), *model, *short, run_dir=folder)


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_an_exported_generator_runs_without_gan_cli(toy, dcgan, tmp_path, capsys, monkeypatch):
    """The .pt2 gives gan-sample's samples for the same latents (toy MLP and DCGAN, with
    batch norm), in a Python that cannot import gan_cli; the safetensors weights load back."""
    pairs = []
    for name, run in (("toy", toy.run_dir), ("dcgan", dcgan.run_dir)):
        samples = _gan_sample(run, tmp_path / name, capsys, monkeypatch, "seed=3", "n=20")
        paths = gan_cli.load(run).export(tmp_path / f"{name}.pt2")
        assert [p.name for p in paths] == [f"{name}.pt2", f"{name}.safetensors", f"{name}.json"]
        pairs.append((paths[0], tmp_path / name / "samples.npz", samples["x"]))
    outputs = run_exported(*[(program, npz) for program, npz, _ in pairs])
    for (_, _, expected), got in zip(pairs, outputs, strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)  # float32's last digit
    again = gan_cli.load(tmp_path / "dcgan.safetensors")
    assert torch.equal(again.sample(20, seed=3), torch.from_numpy(pairs[1][2]))
    assert again.config.model.z_dim == again.z_dim == 100


def test_gan_sample_export(toy, tmp_path, capsys, monkeypatch):
    args = [f"checkpoint={toy.run_dir}", f"export={tmp_path / 'g.pt2'}"]
    code, output = run_in_process(sample.main, args, tmp_path, capsys, monkeypatch)
    assert code == 0, output
    assert "g.pt2, g.safetensors, g.json" in output
    args[1] = f"export={tmp_path / 'g.onnx'}"
    code, output = run_in_process(sample.main, args, tmp_path, capsys, monkeypatch)
    assert code == 2 and "name a .pt2 file" in output


PYTHON = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
DOCS = Path(__file__).parents[1] / "docs" / "guides"


@pytest.mark.slow  # a 100-step run and an evaluation, as the pages show them
def test_the_python_examples_in_the_manual_run(dcgan, tmp_path, monkeypatch):
    """Each page's Python blocks, in order, with RUN a DCGAN run folder and PATH.pt2 its
    export."""
    monkeypatch.chdir(tmp_path)
    program = gan_cli.load(dcgan.run_dir).export(tmp_path / "exported.pt2")[0]
    for page in ("python-api.md", "export.md", "failures.md"):
        blocks = PYTHON.findall((DOCS / page).read_text())
        assert blocks, page
        for i, block in enumerate(blocks):
            code = block.replace('"RUN"', repr(str(dcgan.run_dir)))
            code = code.replace('"PATH.pt2"', repr(str(program)))
            exec(compile(code, f"docs/guides/{page}, block {i + 1}", "exec"), {})
    assert (tmp_path / "arithmetic.png").is_file() and (tmp_path / "interpolation.png").is_file()
    assert (tmp_path / "runs" / "api" / "metrics.jsonl").is_file()
