"""Your own images (data=image_folder): folders of photographs of any size and shape,
packed once at 32 to 256 pixels and read memory-mapped; models at every such size."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_cli.cli.data import main as data_main
from gan_cli.cli.gan_train import main as train_main
from gan_cli.core.errors import UserError
from gan_cli.data import image_files, packing
from gan_cli.data.folder import ImageFolder
from gan_cli.models import dcgan, resnet
from tests.helpers import BIN, clean_env, load_checkpoint

SPEC = image_files.Spec(image_size=32, channels=3, crop="center")


def photographs(folder: Path, n: int, sizes=((90, 120), (130, 70)), suffix: str = "jpg") -> None:
    """n smooth colour images of the given (height, width)s in turn, in a flat folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(list(folder.iterdir())))
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
        image.save(folder / f"photo{i:04d}.{suffix}")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("own")
    photographs(root / "photos", 24)
    return root / "photos"


@pytest.mark.parametrize(  # make test: the largest side; the slow tests 128 pixels too
    ("side", "model"), [pytest.param(128, "resnet", marks=pytest.mark.slow), (256, "dcgan")]
)
def test_a_folder_of_photographs_trains_at_128_and_256_pixels(
    folder, side, model, tmp_path, in_process
):
    result = in_process(
        train_main,
        "data=image_folder",
        f"data.path={folder}",
        f"data.image_size={side}",
        f"model={model}",
        f"data.cache_dir={tmp_path / 'packs'}",
        "data.batch_size=4",
        "data.heldout_size=4",
        "model.g_channels=8",
        "model.d_channels=8",
        "trainer.steps=2",
        "trainer.sample_every=2",
        "logger=none",
        "hydra.run.dir=run",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 2
    grid = Image.open(tmp_path / "run" / "samples" / "step_0000002.png")
    assert grid.size == (8 * (side + 2) + 2,) * 2  # 64 images of side x side, 8 a row


@pytest.mark.parametrize("family", [dcgan, resnet])
@pytest.mark.parametrize("side", [32, 64, 128, 256])
def test_each_model_builds_at_every_side_from_32_to_256(family, side):
    G = family.Generator((3, side, side), g_channels=8)
    D = family.Discriminator((3, side, side), d_channels=8)
    x = G(torch.randn(2, G.z_dim))
    assert x.shape == (2, 3, side, side) and D(x).shape == (2,)


def test_the_widths_halve_as_the_side_doubles_up_to_a_cap():
    def widths(module, kind):
        return [m.out_channels for m in module.modules() if isinstance(m, kind)]

    g = dcgan.Generator((3, 256, 256), g_channels=64)
    assert widths(g, torch.nn.ConvTranspose2d) == [512, 512, 512, 256, 128, 64, 3]
    d = dcgan.Discriminator((3, 256, 256), d_channels=64)
    assert widths(d, torch.nn.Conv2d) == [64, 128, 256, 512, 512, 512, 1]
    # the 32- and 64-pixel models are the papers', parameter for parameter
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(dcgan.Generator((3, 64, 64))) == 3_576_707
    assert count(resnet.Generator((3, 32, 32))) == 1_204_483
    assert count(resnet.Discriminator((3, 32, 32))) == 1_053_825
    r = resnet.Generator((3, 256, 256), g_channels=128)
    assert [b.residual[3].out_channels for b in r.blocks] == [128, 128, 128, 128, 64, 32]


def test_a_side_no_model_builds_is_one_line(folder, tmp_path, in_process):
    result = in_process(
        train_main,
        "data=image_folder",
        f"data.path={folder}",
        "data.image_size=512",
        "model=dcgan",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "model=dcgan does not fit" in result.stderr and "32, 64, 128 or 256" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_run_opens_the_pack_without_decoding(folder, tmp_path, monkeypatch):
    first = ImageFolder(str(folder), image_size=32, heldout_size=4, cache_dir=str(tmp_path))
    assert first.pack.packed_now

    def no_decoding(*_, **__):
        raise AssertionError("decoded again")

    monkeypatch.setattr(image_files, "decode", no_decoding)
    start = time.perf_counter()
    second = ImageFolder(str(folder), image_size=32, heldout_size=4, cache_dir=str(tmp_path))
    assert time.perf_counter() - start < 2
    assert not second.pack.packed_now
    assert torch.equal(first.train, second.train) and torch.equal(first.test, second.test)
    assert first.fingerprint == second.fingerprint
    # the images are the file's bytes, mapped: not a copy in memory
    assert second.train.untyped_storage().data_ptr() == second.pack.images.ctypes.data


def test_the_pack_holds_every_image_once_decoded_as_a_direct_decode_would(folder, tmp_path):
    data = ImageFolder(str(folder), image_size=32, heldout_size=4, cache_dir=str(tmp_path))
    files = image_files.scan(folder)
    direct = np.stack([image_files.decode(str(folder / f.path), SPEC) for f in files])
    packed = torch.cat([data.test, data.train]).numpy()
    assert sorted(map(bytes, packed)) == sorted(map(bytes, direct))  # each image once
    assert len(data.test) == 2  # a tenth, at most heldout_size


def test_a_changed_folder_is_packed_again(tmp_path):
    photos = tmp_path / "photos"
    photographs(photos, 6)

    def open_pack():
        return packing.open_or_pack(str(photos), SPEC, str(tmp_path / "packs"))

    assert open_pack().packed_now and not open_pack().packed_now
    photographs(photos / "more", 1)  # a file added
    pack = open_pack()
    assert pack.packed_now and len(pack.images) == 7
    (photos / "photo0001.jpg").unlink()  # a file removed
    pack = open_pack()
    assert pack.packed_now and len(pack.images) == 6
    before = pack.images.copy()
    rewritten = photos / "photo0002.jpg"
    Image.new("RGB", (50, 50), (255, 0, 0)).save(rewritten)  # a file rewritten
    os.utime(rewritten, ns=(1, 1))  # even with an older time
    pack = open_pack()
    assert pack.packed_now and not np.array_equal(pack.images, before)
    assert list(pack.folder.parent.glob("*.tmp-*")) == []  # nothing left behind


def test_a_pack_cut_short_is_packed_again_never_read(tmp_path, caplog):
    photos = tmp_path / "photos"
    photographs(photos, 6)
    pack = packing.open_or_pack(str(photos), SPEC, str(tmp_path / "packs"))
    whole = pack.images.copy()
    with open(pack.folder / "images.u8", "r+b") as f:  # a disk that filled up
        f.truncate(1000)
    with caplog.at_level(logging.WARNING):
        again = packing.open_or_pack(str(photos), SPEC, str(tmp_path / "packs"))
    assert again.packed_now and np.array_equal(again.images, whole)
    assert "incomplete (1000 of" in caplog.text


def test_kill_9_while_packing_leaves_no_pack_a_run_reads_as_complete(tmp_path):
    photos = tmp_path / "photos"
    photographs(photos, 1, sizes=((600, 800),), suffix="png")  # slow to decode
    for i in range(1, 400):  # copies: quick to write
        os.link(photos / "photo0000.png", photos / f"copy{i:04d}.png")
    packs = tmp_path / "packs"
    args = ["pack", "data=image_folder", f"data.path={photos}", f"data.cache_dir={packs}"]
    proc = subprocess.Popen(
        [str(BIN / "gan-data"), *args],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its decoding processes are killed with it
    )
    deadline = time.monotonic() + 120

    def decoding_began() -> bool:  # the first row holds pixels
        for part in packs.glob("*.tmp-*/images.u8"):
            with part.open("rb") as f:
                if f.read(1000).strip(b"\0"):
                    return True
        return False

    while not decoding_began():
        assert proc.poll() is None and time.monotonic() < deadline, "packing never started"
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not list(packs.glob("*/manifest.json"))  # nothing reads as a pack
    pack = packing.open_or_pack(str(photos), image_files.Spec(64, 3, "center"), str(packs))
    assert pack.packed_now and len(pack.images) == 400
    assert list(packs.glob("*.tmp-*")) == []  # the killed packer's leftovers are gone


def test_unreadable_images_are_named_or_skipped_and_counted(tmp_path, caplog):
    photos = tmp_path / "photos"
    photographs(photos, 5)
    whole = (photos / "photo0003.jpg").read_bytes()
    (photos / "photo0003.jpg").write_bytes(whole[: len(whole) // 2])  # truncated
    (photos / "notes.png").write_text("not an image")
    named = r"photos/(notes.png|photo0003.jpg) cannot be read \(.+\): .*data.skip_bad=true"
    with pytest.raises(UserError, match=named):
        packing.open_or_pack(str(photos), SPEC, str(tmp_path / "packs"))
    with caplog.at_level(logging.WARNING):
        pack = packing.open_or_pack(str(photos), SPEC, str(tmp_path / "packs"), skip_bad=True)
    assert len(pack.images) == 4 and sorted(p for p, _ in pack.skipped) == [
        "notes.png",
        "photo0003.jpg",
    ]
    assert "skipped 2 unreadable images" in caplog.text
    # a run that does not ask to skip them is told, even when the pack exists
    with pytest.raises(UserError, match="cannot be read"):
        packing.open_or_pack(str(photos), SPEC, str(tmp_path / "packs"))


def test_pad_keeps_the_whole_image_and_grayscale_and_webp_are_read(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (200, 100), (200, 200, 200)).save(photos / "wide.webp")
    Image.new("L", (100, 100), 100).save(photos / "gray.png")
    pack = packing.open_or_pack(str(photos), image_files.Spec(32, 3, "pad"), str(tmp_path / "p"))
    wide = next(x for x in pack.images if x.max() == 200)
    assert (wide[:, :8] == 0).all() and (wide[:, -8:] == 0).all()  # black bars, 8 rows each
    assert (wide[:, 9:-9] == 200).all()  # the whole image between them
    gray = packing.open_or_pack(str(photos), image_files.Spec(32, 1, "center"), str(tmp_path / "p"))
    assert gray.images.shape == (2, 1, 32, 32) and {int(x.max()) for x in gray.images} == {
        100,
        200,
    }


def test_labels_come_from_a_csv_or_a_dataset_json(tmp_path):
    photos = tmp_path / "photos"
    photographs(photos, 6)
    csv = tmp_path / "labels.csv"
    csv.write_text(
        "file,label\n" + "".join(f"photo{i:04d}.jpg,{'cat dog'.split()[i % 2]}\n" for i in range(6))
    )
    data = ImageFolder(str(photos), image_size=32, labels=str(csv), cache_dir=str(tmp_path / "p"))
    assert data.labels.names == ("cat", "dog")
    assert torch.bincount(torch.cat([data.labels.train, data.labels.test])).tolist() == [3, 3]
    dataset_json = tmp_path / "dataset.json"
    dataset_json.write_text(
        json.dumps({"labels": [[f"photo{i:04d}.jpg", i % 3] for i in range(6)]})
    )
    data = ImageFolder(
        str(photos), image_size=32, labels=str(dataset_json), cache_dir=str(tmp_path / "p")
    )
    assert data.labels.names == ("0", "1", "2")
    csv.write_text("file,label\nphoto0000.jpg,cat\n")
    with pytest.raises(UserError, match=r"no label for 5 of the 6 images \(first: photo0001.jpg\)"):
        ImageFolder.prepare(str(photos), labels=str(csv))
    with pytest.raises(UserError, match=r"data.labels=.*nope.csv: no such file"):
        ImageFolder(str(photos), image_size=32, labels=str(tmp_path / "nope.csv"))


def test_gan_data_packs_ahead_of_time_and_says_so(folder, tmp_path, in_process):
    args = ["pack", "data=image_folder", f"data.path={folder}", f"data.cache_dir={tmp_path}"]
    first = in_process(data_main, *args, "data.image_size=64", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "24 images, 3 x 64 x 64" in first.stdout and "packed in" in first.stdout
    again = in_process(data_main, *args, "data.image_size=64", cwd=tmp_path)
    assert "packed already" in again.stdout
    wrong = in_process(data_main, "pack", "data=mnist", cwd=tmp_path)
    assert wrong.returncode == 2 and "packs data=image_folder" in wrong.stderr
    bad = in_process(data_main, *args, "data.crop=stretch", cwd=tmp_path)
    assert bad.returncode == 2 and "center|pad" in bad.stderr
