"""gan-sample end to end on tiny runs, and every bad input it must refuse."""

import csv
import io
import json
import pickle
import re
import subprocess
import zipfile
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image

from gan_cli.cli.launch import fit_config as train
from gan_cli.cli.sample import main
from gan_cli.training.checkpoint import load_checkpoint, save_checkpoint
from tests.helpers import BIN, FAST, clean_env, compose, image_data, run_in_process


def gan_sample(*args, cwd):
    return subprocess.run(
        [str(BIN / "gan-sample"), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory, image_root):
    """A tiny toy2d run and a tiny image run, as gan-train leaves them."""
    root = tmp_path_factory.mktemp("runs")
    train(compose("logger=none", *FAST), root / "toy")
    image = [
        *image_data("cifar10", image_root),
        "model=dcgan",
        "model.g_channels=8",
        "model.d_channels=8",
    ]
    train(compose(*image, "logger=none", *FAST), root / "image")
    flat = root / "flat_images"  # no class subfolders: unlabelled
    flat.mkdir()
    for i in range(12):
        Image.fromarray(np.full((16, 16, 3), 20 * i, dtype=np.uint8)).save(flat / f"{i}.png")
    unlabelled = ["data=image_folder", f"data.path={flat}", "data.image_size=16", "model=mlp"]
    unlabelled.append(f"data.cache_dir={root / 'packs'}")
    train(compose(*unlabelled, "model.hidden_dim=16", "logger=none", *FAST), root / "unlabelled")
    return root


def test_a_toy_run_is_scored_as_it_scores_itself(runs, tmp_path, in_process):
    """metrics=true on a toy checkpoint: the run's own measures (its exact W1 against the
    held-out points, checked here with POT on the same generated points; the modes of
    ring8), in metrics.json and from gan_cli.evaluate alike."""
    import ot
    from omegaconf import OmegaConf

    import gan_cli
    from gan_cli.config.build import data_source, rebuild_generator

    out = tmp_path / "o"
    result = in_process(
        main, f"checkpoint={runs / 'toy'}", "metrics=true", f"out={out}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    scores = json.loads((out / "metrics.json").read_text())
    assert set(scores) == {"wasserstein/exact", "modes/captured", "modes/hq_fraction"}
    assert gan_cli.evaluate(runs / "toy") == scores
    state = load_checkpoint(runs / "toy" / "checkpoints" / "last.pt")
    heldout = data_source(OmegaConf.create(state["config"]), torch.device("cpu")).heldout
    G = rebuild_generator(state, True, torch.device("cpu"))
    z = torch.randn(len(heldout), 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fake = G(z).double().numpy()
    uniform = np.full(len(heldout), 1 / len(heldout))
    cost = ot.dist(fake, heldout.double().numpy(), metric="euclidean")
    assert scores["wasserstein/exact"] == pytest.approx(ot.emd2(uniform, uniform, cost), rel=1e-6)
    assert 0 <= scores["modes/captured"] <= 8 and 0 <= scores["modes/hq_fraction"] <= 1


def test_truncation_redraws_exactly_the_components_beyond_psi():
    from gan_cli.trained.sampling import truncate

    z = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    t = truncate(z, 0.5, torch.Generator().manual_seed(1))
    inside = z.abs() <= 0.5
    assert torch.equal(t[inside], z[inside])  # the rest are left as they were
    assert (t.abs() <= 0.5).all() and not torch.equal(t[~inside], z[~inside])
    # the redrawn ones follow the normal truncated to [-0.5, 0.5]: nearly flat on it
    redrawn = t[~inside]
    assert abs(redrawn.mean().item()) < 0.05 and 0.25 < redrawn.std().item() < 0.3


def test_truncated_samples_and_their_trade_off(runs, tmp_path, in_process):
    """truncation=PSI samples from latents within PSI and records it; G.sample gives the
    same; several values with metrics=true write their trade-off, one row each."""
    import gan_cli

    one = in_process(main, f"checkpoint={runs / 'toy'}", "n=200", "truncation=0.5",
                     f"out={tmp_path / 'one'}", cwd=tmp_path)  # fmt: skip
    assert one.returncode == 0, one.stderr
    arrays = npz_arrays(tmp_path / "one" / "samples.npz")
    assert np.abs(arrays["z"]).max() <= 0.5 and arrays["truncation"] == np.float32(0.5)
    x = gan_cli.load(runs / "toy").sample(200, truncation=0.5)
    assert np.array_equal(x.numpy(), arrays["x"])
    table = in_process(main, f"checkpoint={runs / 'toy'}", "metrics=true",
                       "truncation=1.0,0.5,2", f"out={tmp_path / 't'}", cwd=tmp_path)  # fmt: skip
    assert table.returncode == 0, table.stderr
    rows = list(csv.DictReader(open(tmp_path / "t" / "truncation.csv")))
    assert [r["truncation"] for r in rows] == ["0.5", "1.0", "2.0", "none"]
    scores = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert float(rows[0]["wasserstein/exact"]) == scores["0.5"]["wasserstein/exact"]
    plain = in_process(main, f"checkpoint={runs / 'toy'}", "metrics=true",
                       f"out={tmp_path / 'plain'}", cwd=tmp_path)  # fmt: skip
    untruncated = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    assert plain.returncode == 0 and scores["none"] == {**untruncated, "truncation": "none"}
    assert Image.open(tmp_path / "t" / "truncation.png").size[0] > 0
    assert "truncation: the scores at each PSI" in table.stdout


def test_slerp_ends_at_the_given_latents_and_g_interpolate_between_their_samples(runs):
    import gan_cli
    from gan_cli.trained.sampling import slerp

    a, b = torch.randn(2, 6, generator=torch.Generator().manual_seed(0))
    path = slerp(a, b, torch.linspace(0, 1, 7))
    assert torch.allclose(path[0], a, atol=1e-6) and torch.allclose(path[-1], b, atol=1e-6)
    G = gan_cli.load(runs / "toy")
    z0, z1 = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(1))
    x = G.interpolate(z0, z1, frames=5)
    assert x.shape == (5, 2)
    assert torch.allclose(x[0], G.generate(z0[None])[0], atol=1e-5)
    assert torch.allclose(x[-1], G.generate(z1[None])[0], atol=1e-5)


@pytest.mark.parametrize("run", ["toy", "image"])
def test_a_video_has_the_frames_asked_for_and_plays_in_pil(run, runs, tmp_path, in_process):
    video = tmp_path / "walks.gif"
    result = in_process(main, f"checkpoint={runs / run}", "n=4", "interpolate=3",
                        f"video={video}", "frames=12", "fps=10", f"out={tmp_path / 'o'}",
                        cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{video} (12 frames of 3 walks)" in result.stdout
    gif = Image.open(video)
    assert gif.format == "GIF" and gif.n_frames == 12
    assert gif.info["duration"] == 100  # 10 frames a second
    if run == "image":  # the 3 walks side by side, 2 px apart: 3 x 32 + 4 x 2
        assert gif.size == (3 * 32 + 4 * 2, 32 + 2 * 2)
    frames = []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(np.asarray(gif.convert("RGB")))
    assert not np.array_equal(frames[0], frames[-1])  # the walks move


def test_an_mp4_video_has_the_frames_asked_for_and_plays_in_imageio(runs, tmp_path, in_process):
    import imageio.v3 as iio

    video = tmp_path / "walks.mp4"
    result = in_process(main, f"checkpoint={runs / 'image'}", "n=4", "interpolate=3",
                        f"video={video}", "frames=12", "fps=10", f"out={tmp_path / 'o'}",
                        cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    frames = iio.imread(video, plugin="FFMPEG")
    about = iio.immeta(video, plugin="FFMPEG")
    # 3 walks of 32 px side by side, 2 px apart (104 x 36), padded to H.264's 16 px blocks
    assert frames.shape == (12, 48, 112, 3) and about["fps"] == 10 and about["codec"] == "h264"
    assert not np.array_equal(frames[0], frames[-1])


@pytest.mark.parametrize("run", ["toy", pytest.param("image", marks=pytest.mark.slow)])
def test_projection_recovers_the_samples_of_known_latents(run, runs, tmp_path, in_process):
    """Targets the generator made itself (PNG files, or a .npy of points) are projected
    to within a tenth of the distance between two of its samples, by gan-sample and by
    G.project alike; the latents stay in the prior's typical set."""
    import gan_cli
    from gan_cli.trained.projection import distance, typical_norms

    G = gan_cli.load(runs / run)
    made = in_process(main, f"checkpoint={runs / run}", "n=8", "seed=5",
                      f"out={tmp_path / 'made'}", cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    x = torch.from_numpy(npz_arrays(tmp_path / "made" / "samples.npz")["x"])
    if run == "toy":
        np.save(tmp_path / "points.npy", x.numpy())
        targets = tmp_path / "points.npy"
    else:  # the PNGs: what a user has, 8-bit
        targets = tmp_path / "made" / "images"
        x = torch.stack([pixels_of(f) for f in sorted(targets.glob("*.png"))])
    result = in_process(main, f"checkpoint={runs / run}", f"project={targets}",
                        "project.steps=150", "project.starts=64", "project.video=true",
                        "frames=6", f"out={tmp_path / 'p'}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = npz_arrays(tmp_path / "p" / "projected.npz")
    apart = distance(x, x.roll(1, 0)).median().item()
    assert np.allclose(found["target"], x.numpy(), atol=1e-6)
    assert (found["distance"] <= apart / 10).mean() >= 7 / 8, (found["distance"], apart)
    rebuilt = G.generate(torch.from_numpy(found["z"]))
    assert np.allclose(rebuilt.numpy(), found["x"], atol=1e-5)  # x is G(z)
    assert np.allclose(distance(rebuilt, x).numpy(), found["distance"], atol=1e-5)
    lo, hi = typical_norms(G.z_dim)
    assert (np.linalg.norm(found["z"], axis=1) >= lo - 1e-4).all()
    assert (np.linalg.norm(found["z"], axis=1) <= hi + 1e-4).all()
    assert len(found["name"]) == 8 and Image.open(tmp_path / "p" / "projected.png").size[0] > 0
    assert Image.open(tmp_path / "p" / "projected.gif").n_frames == 6
    same = G.project(x, steps=150, starts=64)  # the Python API: the same search
    assert torch.allclose(same.z, torch.from_numpy(found["z"]), atol=1e-4)


def pixels_of(png) -> torch.Tensor:
    array = np.asarray(Image.open(png), dtype=np.float32)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(array) / 127.5 - 1


def test_gan_sample_and_the_api_project_with_the_same_defaults():
    from gan_cli.cli.sample import Args
    from gan_cli.trained.projection import STARTS, STEPS

    assert (Args.project_steps, Args.project_starts) == (STEPS, STARTS)


def test_the_typical_set_is_the_central_mass_of_the_chi_distribution():
    from scipy.stats import chi

    from gan_cli.trained.projection import typical_norms

    for d in (2, 100):
        lo, hi = typical_norms(d)
        assert lo == pytest.approx(chi.ppf(0.0005, d)) and hi == pytest.approx(chi.ppf(0.9995, d))
        norms = torch.randn(200_000, d, generator=torch.Generator().manual_seed(d)).norm(dim=1)
        assert ((norms >= lo) & (norms <= hi)).double().mean() == pytest.approx(0.999, abs=5e-4)


@pytest.mark.parametrize("run", ["toy", "image"])
def test_a_target_depends_on_itself_only(run, runs):
    """Targets are optimised together; each one's latent is what it is alone (for
    images, with the run's features in the loss)."""
    import gan_cli
    from gan_cli.trained.projection import project, run_features
    from gan_cli.training.checkpoint import read_checkpoint

    G = gan_cli.load(runs / run)
    features = run_features(read_checkpoint(runs / run / "checkpoints" / "last.pt"), G.device)
    assert (features is None) == (run == "toy")
    x = G.sample(4, seed=3)
    settings = {"steps": 20, "starts": 16, "features": features}
    together = project(G.module, x, batch=4, **settings)
    alone = [project(G.module, x[i : i + 1], **settings) for i in range(4)]
    assert torch.allclose(together.z, torch.cat([a.z for a in alone]), atol=1e-5)


def test_images_of_another_size_are_resized_and_said_so(runs, tmp_path, in_process, caplog):
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((48, 64, 3), 60 * i, dtype=np.uint8)).save(folder / f"{i}.jpg")
    result = in_process(main, f"checkpoint={runs / 'image'}", f"project={folder}",
                        "project.steps=5", "project.starts=4", f"out={tmp_path / 'p'}",
                        cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 of 2 images are not 32x32: each centre-cropped and resized" in caplog.text
    assert npz_arrays(tmp_path / "p" / "projected.npz")["target"].shape == (2, 3, 32, 32)


def test_mp4_without_its_extra_is_one_line(runs, tmp_path, capsys, monkeypatch):
    import gan_cli.trained.video

    monkeypatch.setattr(gan_cli.trained.video, "mp4_available", lambda: False)
    args = [f"checkpoint={runs / 'toy'}", "interpolate=2", "video=walks.mp4"]
    code, output = run_in_process(main, args, tmp_path, capsys, monkeypatch)
    assert code == 2 and "pip install -e '.[video]'" in output and len(output.splitlines()) == 1
    assert not (tmp_path / "walks.mp4").exists()


def test_nearest_neighbours_are_those_of_a_brute_force_search(runs, tmp_path, in_process):
    """nearest=K on unlabelled images (pixels): nearest.csv holds what numpy finds by
    comparing every sample with every training image."""
    from omegaconf import OmegaConf

    from gan_cli.config.build import data_source

    out = tmp_path / "o"
    result = in_process(main, f"checkpoint={runs / 'unlabelled'}", "n=6", "nearest=3",
                        f"out={out}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert re.search(r"copy rate [01]\.\d{3}, in pixels", result.stdout)
    fake = npz_arrays(out / "samples.npz")["x"].reshape(6, -1).astype(np.float64)
    state = load_checkpoint(runs / "unlabelled" / "checkpoints" / "last.pt")
    data = data_source(OmegaConf.create(state["config"]), torch.device("cpu"))
    train = data.first_examples(data.n_examples).double().flatten(1).numpy()
    distances = np.sqrt(((fake[:, None, :] - train[None, :, :]) ** 2).sum(-1))  # (6, N)
    rows = list(csv.DictReader(open(out / "nearest.csv")))
    assert len(rows) == 6 * 3
    for row in rows:
        i, rank = int(row["sample"]), int(row["rank"])
        expected = np.argsort(distances[i], kind="stable")[rank - 1]
        assert float(row["distance"]) == pytest.approx(distances[i, expected], rel=1e-5)
        assert distances[i, int(row["train_index"])] == pytest.approx(distances[i, expected])
    assert Image.open(out / "nearest.png").size[0] > 0


def npz_arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def test_toy_samples(runs, tmp_path, in_process):
    result = in_process(
        main,
        f"checkpoint={runs / 'toy'}",
        "n=300",
        "batch_size=64",
        f"out={tmp_path / 'o'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    arrays = npz_arrays(tmp_path / "o" / "samples.npz")
    assert arrays["x"].shape == (300, 2) and arrays["x"].dtype == np.float32
    assert arrays["z"].shape == (300, 2) and arrays["z"].dtype == np.float32
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["samples.npz", "scatter.png"]
    assert "wrote to" in result.stdout and "samples.npz" in result.stdout


def test_image_samples_pngs_grid_and_default_folder(runs, tmp_path, in_process):
    result = in_process(
        main,
        f"checkpoint={runs / 'image' / 'checkpoints' / 'last.pt'}",
        "n=70",
        "batch_size=32",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = runs / "image" / "generated"  # the default: generated/ in the run folder
    arrays = npz_arrays(out / "samples.npz")
    assert arrays["x"].shape == (70, 3, 32, 32) and arrays["z"].shape == (70, 8 * 0 + 100)
    assert arrays["x"].min() >= -1 and arrays["x"].max() <= 1
    pngs = sorted((out / "images").iterdir())
    assert [p.name for p in pngs[:2]] == ["000000.png", "000001.png"] and len(pngs) == 70
    first = np.asarray(Image.open(pngs[0]))
    assert first.shape == (32, 32, 3) and first.dtype == np.uint8
    expected = (
        ((np.clip(arrays["x"][0], -1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(1, 2, 0)
    )
    assert np.array_equal(first, expected)
    assert Image.open(out / "grid.png").size == (8 * 34 + 2, 8 * 34 + 2)  # the first 64


def test_same_seed_same_bytes_other_seed_other_samples(runs, tmp_path, in_process):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        args = (
            f"checkpoint={runs / 'image'}",
            "n=40",
            f"seed={seed}",
            f"out={tmp_path / name}",
            "images=false",
        )
        assert in_process(main, *args, cwd=tmp_path).returncode == 0
    same = [(tmp_path / n / "samples.npz").read_bytes() for n in ("a", "b")]
    assert same[0] == same[1]
    assert not np.array_equal(
        npz_arrays(tmp_path / "a" / "samples.npz")["x"],
        npz_arrays(tmp_path / "c" / "samples.npz")["x"],
    )
    assert not (tmp_path / "a" / "images").exists()


def test_interpolation_grid(runs, tmp_path, in_process):
    result = in_process(
        main,
        f"checkpoint={runs / 'image'}",
        "n=4",
        "interpolate=3",
        f"out={tmp_path}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "interpolation.png").size == (
        10 * 34 + 2,
        3 * 34 + 2,
    )  # 3 rows of 10


def test_ema_generator_is_the_default(runs, tmp_path, in_process):
    state = load_checkpoint(runs / "image" / "checkpoints" / "last.pt")
    state["generator_ema"] = {k: torch.zeros_like(v) for k, v in state["generator"].items()}
    save_checkpoint(state, tmp_path / "ema.pt")
    for name, ema in (("ema", "true"), ("raw", "false")):
        args = (
            f"checkpoint={tmp_path / 'ema.pt'}",
            "n=8",
            f"ema={ema}",
            f"out={tmp_path / name}",
            "images=false",
        )
        assert in_process(main, *args, cwd=tmp_path).returncode == 0
    ema_x = npz_arrays(tmp_path / "ema" / "samples.npz")["x"]
    raw_x = npz_arrays(tmp_path / "raw" / "samples.npz")["x"]
    assert np.all(ema_x == 0) and not np.all(raw_x == 0)  # zero weights: tanh(0) = 0


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # on load: open(marker, "w"), which creates the file
        return (open, (self.marker, "w"))


def _bad_files(tmp_path, runs):
    good = (runs / "toy" / "checkpoints" / "last.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(good[: len(good) // 2])
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    Image.new("RGB", (4, 4)).save(tmp_path / "picture.png")
    (tmp_path / "empty_run" / ".hydra").mkdir(parents=True)
    buffer = io.BytesIO()
    torch.save({"generator": {}, "config": _Payload(str(tmp_path / "PAYLOAD_RAN"))}, buffer)
    (tmp_path / "evil.pt").write_bytes(buffer.getvalue())
    (tmp_path / "evil_raw.pt").write_bytes(
        pickle.dumps({"generator": _Payload(str(tmp_path / "PAYLOAD_RAN"))})
    )
    state = load_checkpoint(runs / "image" / "checkpoints" / "last.pt")
    state["config"]["data"]["root"] = str(tmp_path / "moved")  # the data is not here
    state["config"]["data"]["download"] = False
    save_checkpoint(state, tmp_path / "elsewhere.pt")
    Image.new("L", (32, 32)).save(tmp_path / "gray.png")
    np.save(tmp_path / "wide.npy", np.zeros((5, 3), dtype=np.float32))
    (tmp_path / "words.csv").write_text("x,y\none,two\n")
    with zipfile.ZipFile(tmp_path / "zip.pt", "w") as z:
        z.writestr("x.txt", "a zip, but no torch archive")


BAD = {
    "missing path": (["checkpoint={t}/nope"], "no such file"),
    "run folder without checkpoints": (["checkpoint={t}/empty_run"], "without checkpoints/last.pt"),
    "truncated": (["checkpoint={t}/truncated.pt"], "truncated, corrupted"),
    "text file": (["checkpoint={t}/notes.txt"], "not a checkpoint of tensors"),
    "image": (["checkpoint={t}/picture.png"], "not a checkpoint of tensors"),
    "zip": (["checkpoint={t}/zip.pt"], "not a readable checkpoint"),
    "malicious torch file": (["checkpoint={t}/evil.pt"], "refused"),
    "malicious raw pickle": (["checkpoint={t}/evil_raw.pt"], "refused"),
    "n=0": (["checkpoint={r}", "n=0"], "n=0: n is an integer >= 1"),
    "negative n": (["checkpoint={r}", "n=-5"], "n=-5: n is an integer >= 1"),
    "n not a number": (["checkpoint={r}", "n=ten"], "n=ten: n is an integer >= 1"),
    "seed not a number": (["checkpoint={r}", "seed=x"], "seed=x: seed is an integer"),
    "batch_size a float": (["checkpoint={r}", "batch_size=2.5"], "batch_size=2.5: batch_size is"),
    "interpolate negative": (
        ["checkpoint={r}", "interpolate=-1"],
        "interpolate is an integer >= 0",
    ),
    "ema not a bool": (["checkpoint={r}", "ema=maybe"], "ema=maybe: ema is true|false"),
    "images not a bool": (["checkpoint={r}", "images=often"], "images=often: images is true|false"),
    "metrics not a bool": (["checkpoint={r}", "metrics=yes!"], "metrics is true|false"),
    "overwrite not a bool": (["checkpoint={r}", "overwrite=please"], "overwrite is true|false"),
    "unknown device": (["checkpoint={r}", "device=tpu"], "device=tpu is not available"),
    "unknown option": (["checkpoint={r}", "temperature=2"], "unknown option 'temperature'"),
    "no key=value": (["checkpoint={r}", "fast"], "not an option"),
    "no checkpoint": (["n=3"], "checkpoint=PATH is required"),
    "no arguments at all": ([], "checkpoint=PATH is required"),
    "video of another format": (
        ["checkpoint={r}", "interpolate=2", "video=out.avi"],
        "video=out.avi: video is a .gif or .mp4 file, with interpolate=K",
    ),
    "video without walks": (["checkpoint={r}", "video=out.gif"], "video is a .gif or .mp4 file"),
    "one frame": (["checkpoint={r}", "frames=1"], "frames=1: frames is an integer >= 2"),
    "nearest on points": (["checkpoint={r}", "nearest=3"], "nearest=3: nearest=K looks for copies"),
    "nearest negative": (
        ["checkpoint={r}", "nearest=-1"],
        "nearest=-1: nearest is an integer >= 0",
    ),
    "truncation zero": (
        ["checkpoint={r}", "truncation=0"],
        "truncation=0: truncation is a number > 0",
    ),
    "truncation negative": (["checkpoint={r}", "truncation=-1"], "truncation is a number > 0"),
    "truncation not a number": (["checkpoint={r}", "truncation=abc"], "truncation is a number"),
    "truncation list without metrics": (
        ["checkpoint={r}", "truncation=0.5,1"],
        "several values make metrics=true's table",
    ),
    "nearest without the run's data": (
        ["checkpoint={t}/elsewhere.pt", "nearest=3"],
        "nearest=3 compares with the run's training images",
    ),
    "project a missing file": (["checkpoint={i}", "project={t}/nope.png"], "no such file"),
    "project an empty folder": (
        ["checkpoint={i}", "project={t}/empty_run"],
        "the folder holds no images; project is an image (png|jpg|jpeg|webp)",
    ),
    "project a grayscale image into colour": (
        ["checkpoint={i}", "project={t}/gray.png"],
        "is grayscale (1 channel); this generator makes colour (3 channels) images",
    ),
    "project a text file into images": (
        ["checkpoint={i}", "project={t}/notes.txt"],
        "this run makes images: project is an image",
    ),
    "project points of the wrong width": (
        ["checkpoint={r}", "project={t}/wide.npy"],
        "holds an array of shape (5, 3); this generator makes 2-D points",
    ),
    "project an image into points": (
        ["checkpoint={r}", "project={t}/picture.png"],
        "this run makes 2-D points: project is a .npy or .csv file",
    ),
    "project a csv of words": (["checkpoint={r}", "project={t}/words.csv"], "not a readable .csv"),
    "project steps negative": (
        ["checkpoint={r}", "project={t}/wide.npy", "project.steps=-1"],
        "project.steps=-1: project.steps is an integer >= 0",
    ),
    "project starts zero": (
        ["checkpoint={r}", "project={t}/wide.npy", "project.starts=0"],
        "project.starts=0: project.starts is an integer >= 1",
    ),
    "project options without project": (
        ["checkpoint={r}", "project.video=true"],
        "project.video need project=PATH",
    ),
    "project beside sampling options": (
        ["checkpoint={r}", "project={t}/wide.npy", "interpolate=3"],
        "projects and samples nothing: leave out interpolate=",
    ),
    "metrics of unlabelled images without Inception weights": (
        ["checkpoint={u}", "metrics=true", "inception_weights={t}/nope.pth"],
        "metrics=true: the Inception weights did not load",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_and_writes_nothing(case, runs, tmp_path, capsys, monkeypatch):
    _bad_files(tmp_path, runs)
    args, message = BAD[case]
    out = tmp_path / "out"
    paths = {"t": tmp_path, "r": runs / "toy", "u": runs / "unlabelled", "i": runs / "image"}
    args = [a.format(**paths) for a in args]
    args += [f"out={out}"] if args else []
    before = sorted(p.name for p in tmp_path.iterdir())
    code, output = run_in_process(main, args, tmp_path, capsys, monkeypatch)
    assert code != 0
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gan-sample: error:"), lines
    assert message in lines[0]
    assert not re.search(r"\(\d+\)", lines[0])  # no bare library codes like "(101)"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no out/, no payload marker
    assert not (tmp_path / "PAYLOAD_RAN").exists()


def test_bad_input_through_the_installed_command(runs, tmp_path):
    _bad_files(tmp_path, runs)
    result = gan_sample(f"checkpoint={tmp_path / 'evil.pt'}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.startswith("gan-sample: error:") and not (tmp_path / "PAYLOAD_RAN").exists()
    )


def test_the_payload_would_run_without_weights_only(tmp_path, runs):
    """The malicious files are real: a plain pickle load runs their payload."""
    _bad_files(tmp_path, runs)
    pickle.loads((tmp_path / "evil_raw.pt").read_bytes())
    assert (tmp_path / "PAYLOAD_RAN").exists()


def test_help_lists_examples(tmp_path):
    result = gan_sample("--help", cwd=tmp_path)
    assert result.returncode == 0 and "gan-sample checkpoint=" in result.stdout


def image_metrics(runs, tmp_path, n: int, weights: str, run):
    """gan-sample metrics=true on the image run (run: `in_process`, or `gan_sample` where the
    test reads what the command's log prints): its result and metrics.json."""
    result = run(
        f"checkpoint={runs / 'image'}",
        f"n={n}",
        "metrics=true",
        f"inception_weights={weights}",
        f"out={tmp_path}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    return result, json.loads((tmp_path / "metrics.json").read_text())


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_fid_and_kid_of_the_samples(runs, tmp_path, inception_weights, in_process):
    _, scores = image_metrics(runs, tmp_path, 12, inception_weights, partial(in_process, main))
    assert scores["fid"] > 0 and scores["fid/n_samples"] == 12 and scores["fid/reference"] == "test"
    assert "fid/classifier" in scores  # labelled data: the classifier's metrics beside them


def _same_scores(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            _same_scores(got[key], value)
        elif isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-6), key
        else:
            assert got[key] == value, key


def test_metrics_of_labelled_images_need_no_download(runs, tmp_path):
    result, scores = image_metrics(runs, tmp_path, 40, str(tmp_path / "none.pth"), gan_sample)
    assert "no FID/KID" in result.stderr  # a warning, and the metrics that need no weights
    assert "fid" not in scores and scores["fid/classifier"] > 0
    keys = ["prdc/precision", "prdc/recall", "prdc/density", "prdc/coverage", "classes/covered"]
    assert all(k in scores and k in scores["floor"] for k in keys)
    assert 0 <= scores["classifier/accuracy"] <= 1 and "fid/classifier" in result.stdout
    import gan_cli  # the Python API computes the same scores

    weights = str(tmp_path / "none.pth")
    # (to float64 rounding: this process and the command's may use other thread counts)
    _same_scores(gan_cli.evaluate(runs / "image", n=40, inception_weights=weights), scores)
    picked = gan_cli.evaluate(runs / "image", 40, ["classifier"], inception_weights=weights)
    _same_scores(picked, scores)  # (no Inception weights here: the classifier's scores are all)
    with pytest.raises(gan_cli.UserError, match="fidd is not one of classifier|"):
        gan_cli.evaluate(runs / "image", n=40, metrics=["fidd"])


@pytest.mark.parametrize(
    ("data", "model"),
    [
        ("toy2d", "mlp"),
        ("cifar10", "mlp"),
        ("cifar10", "resnet"),
        ("mnist", "dcgan"),
        ("image_folder", "dcgan"),
    ],
)
def test_every_model_and_data(data, model, image_root, tmp_path, capsys, monkeypatch):
    overrides = [] if data == "toy2d" else image_data(data, image_root)
    widths = ["model.z_dim=8"] + (
        [] if model == "mlp" else ["model.g_channels=8", "model.d_channels=8"]
    )
    train(compose(*overrides, f"model={model}", *widths, "logger=none", *FAST), tmp_path / "run")
    args = [f"checkpoint={tmp_path / 'run'}", "n=5", "interpolate=2"]
    code, output = run_in_process(main, args, tmp_path, capsys, monkeypatch)
    assert code == 0, output
    x = npz_arrays(tmp_path / "run" / "generated" / "samples.npz")["x"]
    channels = {"toy2d": None, "mnist": 1, "cifar10": 3, "image_folder": 3}[data]
    assert x.shape == ((5, 2) if channels is None else (5, channels, 32, 32))
    assert (tmp_path / "run" / "generated" / "interpolation.png").is_file()


# --- the output folder holds one call's results ------------------------------------------


def test_a_second_call_into_the_same_folder_is_refused_or_replaces_it(runs, tmp_path, in_process):
    """A call into a folder that is not empty stops before writing; overwrite=true
    removes what the earlier call wrote (its 70 PNGs, interpolation.png, metrics...)
    and nothing else, so the folder then holds this call's results only."""
    out = tmp_path / "out"
    first = in_process(main, f"checkpoint={runs / 'image'}", "n=70", "interpolate=2", f"out={out}",
                 cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    (out / "notes.txt").write_text("the user's own file")
    (out / "images" / "cover.png").write_bytes((out / "grid.png").read_bytes())
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = in_process(main, f"checkpoint={runs / 'image'}", "n=8", f"out={out}", cwd=tmp_path)
    lines = [x for x in (again.stdout + again.stderr).splitlines() if x.strip()]
    assert again.returncode == 2 and len(lines) == 1 and "overwrite=true" in lines[0], lines
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # untouched
    replaced = in_process(
        main, f"checkpoint={runs / 'image'}", "n=8", f"out={out}", "overwrite=true", cwd=tmp_path
    )
    assert replaced.returncode == 0, replaced.stderr
    pngs = sorted(p.name for p in (out / "images").iterdir())
    assert pngs == [f"{i:06d}.png" for i in range(8)] + ["cover.png"]
    assert sorted(p.name for p in out.iterdir()) == [
        "grid.png", "images", "notes.txt", "samples.npz"
    ]  # fmt: skip
    assert npz_arrays(out / "samples.npz")["x"].shape[0] == 8
