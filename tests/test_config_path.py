"""One straight config path: a run composes its config at most twice (once for the
check before any folder is made, once by Hydra), checks it once and reads the checkpoint
it resumes once; a sweep is checked job by job before its first job starts."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from omegaconf import MISSING

import gan_cli
from gan_cli.cli import gan_train as train
from gan_cli.config import checks
from gan_cli.config.compose import compose_config, compose_jobs

RUN = ["trainer.steps=4", "trainer.eval_every=0", "trainer.sample_every=0"]
RUN += ["trainer.ckpt_every=2", "data.heldout_size=200", "model.hidden_dim=16", "logger=none"]


class Counted:
    """Calls of a function, counted where it is looked up (a class or a module)."""

    def __init__(self, monkeypatch, owner, name: str, only=lambda *a, **k: True) -> None:
        self.calls, original = 0, getattr(owner, name)

        def counting(*args, **kwargs):
            self.calls += only(*args, **kwargs)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counting)


def test_a_run_composes_twice_checks_once_and_reads_its_checkpoint_once(tmp_path, monkeypatch):
    run = tmp_path / "run"
    gan_cli.train(*RUN, run_dir=run)  # stops at step 4, checkpoint written
    composed = Counted(monkeypatch, ConfigLoaderImpl, "load_configuration")
    checked = Counted(monkeypatch, checks, "check_rules")
    read = Counted(monkeypatch, torch, "load", lambda path, *a, **k: str(path).endswith(".pt"))
    _, final = gan_cli.train(*RUN[1:], "trainer.steps=6", "trainer.resume=auto", run_dir=run)
    assert final["loss/d"] == final["loss/d"]  # it trained on, to step 6
    assert (composed.calls, checked.calls, read.calls) == (2, 1, 1)


def test_a_sweep_composes_each_choice_of_groups_once_and_checks_every_job():
    composed = compose_jobs(["loss=wgan,wgan_gp", "trainer.seed=1,2,3"], multirun=True)
    jobs = [" ".join(job.overrides) for job in composed.jobs]
    assert jobs == [
        f"loss={loss} trainer.seed={s}" for loss in ("wgan", "wgan_gp") for s in (1, 2, 3)
    ]
    for job in composed.jobs:  # each job's config is the one Hydra composes for it
        assert job.config == compose_config(list(job.overrides))


def test_a_sweep_with_a_bad_job_is_refused_before_any_job_starts(workdir, in_process):
    for args, said in [
        (["loss=wgan,wgan_gp", "loss.clip=0.01"], "job loss=wgan_gp loss.clip=0.01: loss.clip"),
        (["loss.gp_lambda=1,abc"], "job loss.gp_lambda=abc: loss.gp_lambda must be a number"),
    ]:
        result = in_process(train.main, "-m", *args, cwd=workdir)
        assert result.returncode == 2
        assert result.stderr.startswith(f"gan-train: error: {said}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not any(workdir.iterdir())


def test_a_default_written_twice_is_the_same_in_both_places():
    """A key's default is declared once, where it is used: a data source's constructor,
    the schema's classes for the nodes gan-train reads itself. The config files repeat
    them (Hydra composes only keys it has): each copy holds its declaration's value."""
    from omegaconf import OmegaConf

    from gan_cli.config import schema
    from gan_cli.config.compose import config_dir
    from gan_cli.config.targets import target_class
    from gan_cli.core.params import RUNTIME, signature_params

    conf = Path(config_dir())
    for file in sorted((conf / "data").glob("*.yaml")):
        node = OmegaConf.to_container(OmegaConf.load(file))
        params = signature_params(target_class(node["_target_"], "data"), skip=RUNTIME)
        defaults = {p.name: p.default for p in params}
        for key, value in node.items():
            if key != "_target_":
                assert (key, value) == (key, defaults[key]), file.name
    train = OmegaConf.to_container(OmegaConf.load(conf / "train.yaml"))
    for name, cls in [
        ("trainer", schema.Trainer),
        ("loss", schema.Loss),
        ("doctor", schema.Doctor),
    ]:
        for param in schema._declared(cls):
            if param.default is not MISSING:
                assert train[name][param.name] == param.default, f"{name}.{param.name}"


def test_what_a_resumed_run_may_change_is_read_from_the_schema():
    from gan_cli.config.schema import may_change

    changeable = may_change()
    assert {"trainer.steps", "trainer.device", "logger.", "metrics.", "doctor."} <= set(changeable)
    assert not {"trainer.seed", "trainer.precision", "trainer.ema_decay"} & set(changeable)


def test_a_checkpoint_naming_a_class_by_its_older_path_still_resumes(image_root):
    """Runs trained by earlier versions name image data as gan_cli.data.images.MNIST:
    the path still imports, and a resumed run takes it for the class conf/ names now."""
    import pytest
    from omegaconf import OmegaConf

    from gan_cli.config.checks import check_resume
    from gan_cli.config.spec import check
    from gan_cli.core.errors import UserError
    from gan_cli.data import images, official
    from tests.helpers import image_data

    assert images.MNIST is official.MNIST
    cfg = check(compose_config([*image_data("mnist", image_root), "model=dcgan", "logger=none"]))
    saved = OmegaConf.to_container(cfg)
    saved["data"]["_target_"] = "gan_cli.data.images.MNIST"
    check_resume({"config": saved, "step": 1}, cfg, Path("last.pt"))
    saved["data"]["_target_"] = "gan_cli.data.images.FashionMNIST"
    with pytest.raises(UserError, match="data._target_"):
        check_resume({"config": saved, "step": 1}, cfg, Path("last.pt"))
