"""The benchmark compares like with like: its bare loop makes the same updates as
gan-train's `train_step`, so the overhead ratio measures only what gan-train adds."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch

from bench.common import config
from bench.overhead import BareGAN
from gan_cli.config.build import assemble
from gan_cli.config.spec import check
from gan_cli.training import step
from gan_cli.training.distributed import World


@pytest.mark.parametrize("loss", ["wgan_gp", "vanilla"])
def test_bare_loop_updates_equal_train_step(loss):
    cfg = check(config("data=toy2d", "model=mlp", f"loss={loss}", "trainer.device=cpu"))
    cpu = torch.device("cpu")
    bare = BareGAN(cfg, cpu)
    gan, data = assemble(cfg, cpu)  # the same seed: the same initial weights and batches
    G, D = gan.generator, gan.critic
    before = copy.deepcopy((G.state_dict(), D.state_dict()))
    guard = step.Guard("stop", World())
    for n in (1, 2, 3):
        torch.manual_seed(n)  # the same noise (and penalty eps) for both
        bare.step()
        torch.manual_seed(n)
        step.train_step(gan, data, n, guard, contextlib.nullcontext())
    for ours, theirs, initial in ((G, bare.G, before[0]), (D, bare.D, before[1])):
        state = ours.state_dict()
        # trained (a Wasserstein critic's output bias gets no gradient: E_P 1 - E_Q 1 = 0)
        assert sum(not torch.equal(a, initial[name]) for name, a in state.items()) >= 6
        for name, a in state.items():
            torch.testing.assert_close(a, theirs.state_dict()[name], rtol=1e-5, atol=1e-7)


def test_a_finished_study_job_is_read_from_its_folder(tmp_path):
    """bench.architectures reads a job from its folder (overrides, status.json, what it
    drew, its seconds), for the results and for --record."""
    import json

    import yaml

    from bench.architectures import _job

    folder = tmp_path / "job"
    (folder / ".hydra").mkdir(parents=True)
    overrides = ["model.arch_seed=3", "loss=wgan_gp", "data=fashion_mnist"]
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / ".hydra" / "config.yaml").write_text("{}")
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": {"g_act": "tanh", "d_depth": 8}}))
    metrics = {"classes/score": 2.5, "floor/classes/score": 8.0, "loss/d": 1.0}
    (folder / "status.json").write_text(
        json.dumps({"status": "ok", "error": "", "metrics": metrics})
    )
    job = _job(folder)
    assert job["status"] == "ok" and job["model.arch_seed"] == "3" and job["loss"] == "wgan_gp"
    assert job["classes/score"] == 2.5 and "loss/d" not in job
    assert job["drawn"]["g_act"] == "tanh" and job["drawn"]["d_depth"] == 8
    assert job["seconds"] >= 0


def test_the_learning_curves_are_drawn_against_cpu_minutes(tmp_path, monkeypatch):
    from bench import images

    rows = [
        {"step": 100, "time/steps_per_s": 2.0},
        {"step": 200, "fid/classifier": 30.0},
        {"step": 400, "fid/classifier": 12.0, "loss/d": 1.0},
    ]
    assert images.curve(rows) == [(200, 30.0), (400, 12.0)]
    drawn = []
    monkeypatch.setattr("matplotlib.axes.Axes.plot", lambda ax, x, y, **kw: drawn.append(x))
    run = {"config": "best", "steps": 400, "cpu_seconds": 1200.0, "floor": {}}
    images.draw_curves([{**run, "curve": images.curve(rows)}], tmp_path / "c.png")
    assert drawn == [[10.0, 20.0]]  # half the steps: half of 20 CPU-minutes
    assert (tmp_path / "c.png").is_file()


def test_the_images_study_runs_the_targets_on_every_seed_before_the_rest():
    from bench.images import FIXED_P, HEADLINE, RECIPES, SMALL_DATA, order, summarize

    jobs = sorted(((n, s) for n in RECIPES for s in (0, 1, 2)), key=lambda j: order(*j))
    first = len(HEADLINE) * 3 + len(SMALL_DATA)
    assert {j for j in jobs[:first]} == {(n, s) for n in HEADLINE for s in (0, 1, 2)} | {
        (n, 0) for n in SMALL_DATA
    }
    assert jobs[0] == ("best", 0) and len(jobs) == len(set(jobs)) == len(RECIPES) * 3
    assert jobs[-2:] == [(FIXED_P, 1), (FIXED_P, 2)]  # fixed p lost on seed 0: its seeds last
    runs = [
        {"config": n, "seed": s, "steps": 9, "fid/classifier": 2.0 + s, "floor": {}}
        for n, s in (("cond best", 0), ("best", 1), ("best", 0))
    ]
    summary = summarize(runs, 0.9)["summary"]
    assert list(summary) == ["best", "cond best"]  # the recipes' order, not the runs'
    assert summary["best"]["fid/classifier"] == 2.5 and summary["best"]["runs"] == 2
