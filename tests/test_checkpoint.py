"""Checkpoints are written atomically and read back as plain data only."""

import pickle

import pytest
import torch

from gan_cli.training.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip(tmp_path):
    state = {"step": 3, "config": {"a": [1, 2.5, None, "x"]}, "w": {"t": torch.arange(4.0)}}
    save_checkpoint(state, tmp_path / "ckpt" / "last.pt")
    loaded = load_checkpoint(tmp_path / "ckpt" / "last.pt")
    assert loaded["step"] == 3 and loaded["config"] == state["config"]
    assert torch.equal(loaded["w"]["t"], torch.arange(4.0))


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"step": 1}, path)

    def crash_midway(obj, f):  # half the bytes reach the disk, then the process dies
        f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_objects_are_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"step": _Payload()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(path)
    assert "this must never run" not in capsys.readouterr().out


def test_files_are_made_with_the_users_umask(tmp_path, in_process):
    """A run's files and gan-sample's are 0644 under umask 022, as any other program's
    (atomic writes go through mkstemp, which makes 0600)."""
    import os
    import stat

    from gan_cli.cli.gan_train import main as train
    from gan_cli.cli.sample import main as sample
    from tests.helpers import FAST

    old = os.umask(0o022)
    try:
        assert (
            in_process(train, *FAST, "logger=none", "hydra.run.dir=run", cwd=tmp_path).returncode
            == 0
        )
        assert in_process(sample, "checkpoint=run", "n=4", cwd=tmp_path).returncode == 0
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    names = {p.relative_to(tmp_path / "run").as_posix() for p in files}
    assert {"config.yaml", "metrics.jsonl", "checkpoints/last.pt", "generated/samples.npz"} <= names
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {
        p.name: "0o644" for p in files
    }
