"""The doctor: each rule on synthetic scalar series (fires above its threshold, silent
below, clears), the health scalars against independent computations, gan-doctor on a
real run, a sweep, a killed run and bad input, and the findings reaching W&B."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import gan_cli
from gan_cli.doctor import RULES, Finding, Healthy, Scalars, Unchecked, judge
from gan_cli.doctor.report import with_remedy
from gan_cli.metrics.overfitting import copy_rate
from gan_cli.training.health import diversity, outputs
from tests.helpers import BIN, clean_env, gan_train, wandb_records

TOY = {
    "data": {"_target_": "gan_cli.data.toy2d.Toy2D", "distribution": "ring8"},
    "trainer": {"steps": 1000},
    "optim": {"g": {"lr": 1e-4}, "d": {"lr": 1e-4}},
}
VANILLA = {
    "objective": {"_target_": "gan_cli.losses.minimax.Minimax"},
    "constraint": {"_target_": "gan_cli.constraints.base.Constraint"},
    "n_critic": 1,
}
WGAN = {
    "objective": {"_target_": "gan_cli.losses.wasserstein.Wasserstein"},
    "constraint": {"_target_": "gan_cli.constraints.weight_clipping.WeightClipping"},
    "clip": 0.01,
    "n_critic": 5,
}
IMAGES = {
    "data": {"_target_": "gan_cli.data.official.FashionMNIST", "fraction": 0.01},
    "trainer": {"steps": 1000},
    "optim": {"g": {"lr": 2e-4}, "d": {"lr": 2e-4}},
}


def records(every: int, steps: int, **series) -> list[dict]:
    """Records at every `every` steps up to `steps`; each keyword a function step -> value."""
    out = []
    for step in range(every, steps + 1, every):
        out.append({"step": step, **{k.replace("__", "/"): f(step) for k, f in series.items()}})
    return out


def verdict(name: str, recs: list[dict], config: dict) -> object:
    return judge(RULES[name], Scalars(recs, config))


def toy(loss: dict) -> dict:
    return {**TOY, "loss": loss}


# (rule, config, series that show the failure, series that do not); each series a
# function of the step; the run is 1,000 steps, logged every 25, evaluated every 100
CASES = {
    "vanishing_gradients": (
        toy({**VANILLA, "saturating": True}),
        dict(health__grad_g=lambda s: 1.0 if s < 400 else 1e-4, health__d_accuracy=lambda s: 0.99),
        dict(health__grad_g=lambda s: 1.0, health__d_accuracy=lambda s: 0.99),
    ),
    "critic_overpowers": (  # the critic wins while the generator stalls
        toy(VANILLA),
        dict(health__d_accuracy=lambda s: 0.97, wasserstein__exact=lambda s: 1.0),
        dict(health__d_accuracy=lambda s: 0.75, wasserstein__exact=lambda s: 1.0),
    ),
    "clip_too_tight": (
        toy(WGAN),
        dict(health__clip_saturation=lambda s: 0.95, critic__lipschitz=lambda s: 1e-4),
        dict(health__clip_saturation=lambda s: 0.95, critic__lipschitz=lambda s: 0.8),
    ),
    "clip_too_loose": (
        toy({**WGAN, "clip": 1.0}),
        dict(health__clip_saturation=lambda s: 0.0, critic__lipschitz=lambda s: 500.0),
        dict(health__clip_saturation=lambda s: 0.0, critic__lipschitz=lambda s: 2.0),
    ),
    "divergence": (
        toy(VANILLA),
        dict(wasserstein__exact=lambda s: 0.1 if s < 600 else 0.9, health__grad_g=lambda s: 1.0),
        dict(wasserstein__exact=lambda s: 0.1, health__grad_g=lambda s: 1.0),
    ),
    "mode_collapse": (
        toy(VANILLA),
        dict(modes__captured=lambda s: 3.0, health__diversity=lambda s: 0.9),
        dict(modes__captured=lambda s: 8.0, health__diversity=lambda s: 0.9),
    ),
    "no_progress": (
        toy(VANILLA),
        dict(wasserstein__exact=lambda s: 1.2),
        dict(wasserstein__exact=lambda s: 1.2 / (1 + s / 100)),
    ),
    "critic_overfits": (
        IMAGES,
        dict(health__rv=lambda s: 0.8),
        dict(health__rv=lambda s: 0.1),
    ),
    "memorization": (
        IMAGES,
        dict(health__copy_rate=lambda s: 0.95),
        dict(health__copy_rate=lambda s: 0.4),
    ),
}
EVAL_KEYS = (
    "critic__lipschitz",
    "wasserstein__exact",
    "modes__captured",
    "health__rv",
    "health__copy_rate",
)


def series_records(series: dict, steps: int = 1000) -> list[dict]:
    logged = {k: f for k, f in series.items() if k not in EVAL_KEYS}
    evaluated = {k: f for k, f in series.items() if k in EVAL_KEYS}
    recs = records(25, steps, **logged)
    for r in recs:
        if r["step"] % 100 == 0:
            r.update({k.replace("__", "/"): f(r["step"]) for k, f in evaluated.items()})
    return recs


def test_every_rule_has_a_case():
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_rule_fires_above_its_threshold_and_is_silent_below(name):
    config, bad, good = CASES[name]
    found = verdict(name, series_records(bad), config)
    assert isinstance(found, Finding), found
    assert found.rule == name and found.remedies and found.evidence
    assert isinstance(verdict(name, series_records(good), config), Healthy)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_rule_clears_when_its_failure_ends(name):
    """The failure for the first 600 steps, then the healthy series: silent at the end,
    but found while the failure lasted."""
    config, bad, good = CASES[name]
    recs = series_records(bad, 600) + [r for r in series_records(good) if r["step"] > 600]
    if name == "divergence":  # a quality that left its best and came back
        recs = series_records(bad, 800)
        recs += [r for r in series_records(good) if r["step"] > 800]
    elif name == "no_progress":  # stalled, then improving: judged on the latest half
        recs = series_records(bad, 500)
        recs += [{**r, "wasserstein/exact": 0.1} for r in series_records(good) if r["step"] > 500]
    assert isinstance(verdict(name, recs, config), Healthy)
    cut = [r for r in recs if r["step"] <= 600 if name not in ("divergence", "no_progress")]
    if cut:
        assert isinstance(verdict(name, cut, config), Finding)


def test_a_winning_critic_is_no_finding_while_the_generator_improves():
    improving = dict(health__d_accuracy=lambda s: 0.97, wasserstein__exact=lambda s: 100 / s)
    found = verdict("critic_overpowers", series_records(improving), toy(VANILLA))
    assert isinstance(found, Healthy)


def test_a_generator_still_finding_modes_is_not_collapsed_but_one_losing_them_is():
    finding = dict(modes__captured=lambda s: s / 250, health__diversity=lambda s: 0.9)
    assert isinstance(verdict("mode_collapse", series_records(finding), toy(VANILLA)), Healthy)
    losing = dict(
        modes__captured=lambda s: 6.0 if s < 800 else 3.0, health__diversity=lambda s: 0.9
    )
    assert isinstance(verdict("mode_collapse", series_records(losing), toy(VANILLA)), Finding)


def test_rules_that_cannot_be_checked_say_why():
    recs = series_records(dict(health__grad_g=lambda s: 1.0))
    for name in ("memorization", "critic_overfits"):
        found = verdict(name, recs, toy(VANILLA))
        assert isinstance(found, Unchecked) and "unlimited" in found.reason
    for name in ("clip_too_tight", "clip_too_loose"):
        assert isinstance(verdict(name, recs, toy(VANILLA)), Unchecked)
    assert isinstance(verdict("no_progress", recs, toy(VANILLA)), Unchecked)


def test_a_non_finite_loss_is_divergence_at_its_step():
    recs = series_records(dict(loss__d=lambda s: math.nan if s >= 300 else 0.5))
    found = verdict("divergence", recs, toy(VANILLA))
    assert isinstance(found, Finding) and found.began == 300


def test_a_run_that_stopped_on_a_non_finite_loss_is_divergence(clipped_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(clipped_run, run, ignore=shutil.ignore_patterns("wandb", "checkpoints"))
    error = "Diverged: step 250: loss/d is nan (trainer.nan_policy=stop)"
    (run / "status.json").write_text(json.dumps({"status": "failed", "error": error}))
    found = gan_cli.diagnose(run).findings[0]
    assert found.rule == "divergence" and "loss/d is nan" in found.evidence


def test_a_remedy_replaces_the_runs_keys_and_a_group_switch_drops_its_nodes():
    run = ["loss=vanilla", "loss.saturating=true", "optim.d.lr=1e-3", "trainer.steps=900"]
    from gan_cli.doctor.base import Remedy

    assert with_remedy(run, Remedy(("loss.saturating=false",), "")) == [
        "loss=vanilla",
        "optim.d.lr=1e-3",
        "trainer.steps=900",
        "loss.saturating=false",
    ]
    assert with_remedy(run, Remedy(("loss=wgan_gp",), "")) == ["trainer.steps=900", "loss=wgan_gp"]


# --- the health scalars ----------------------------------------------------------------------


def test_accuracy_and_rt_against_their_definitions():
    real, fake = torch.tensor([2.0, -1.0, 3.0, 0.5]), torch.tensor([-2.0, 1.0, -0.5, -3.0])
    got = {k: v.item() for k, v in outputs(real, fake, 0.0).items()}
    assert got["health/d_accuracy"] == pytest.approx(6 / 8)
    assert got["health/rt"] == pytest.approx((1 - 1 + 1 + 1) / 4)
    assert got["health/d_real"] == pytest.approx(1.125)
    critic = {k: v.item() for k, v in outputs(real, fake, None).items()}
    c = (real.mean() + fake.mean()) / 2  # a critic's outputs are centred on the midpoint
    assert critic["health/rt"] == pytest.approx(torch.sign(real - c).mean().item())
    assert "health/d_accuracy" not in critic


def test_gradient_norms_and_clip_saturation_against_their_definitions():
    from gan_cli.constraints.weight_clipping import WeightClipping
    from gan_cli.training.health import health

    torch.manual_seed(0)
    g, d = torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 1))
    g(torch.randn(8, 2)).square().sum().backward()
    d(torch.randn(8, 2)).sum().backward()
    with torch.no_grad():
        d[0].weight[:2] = 0.01  # 4 of the critic's 17 numbers at the bound 0.01
    out = {"real_out": torch.ones(4), "fake_out": -torch.ones(4)}
    clip = WeightClipping(0.01).health(d)
    got = health(g, d, out, 0.0, clip)
    flat = lambda m: torch.cat([p.grad.flatten() for p in m.parameters()])  # noqa: E731
    assert got["health/grad_g"] == pytest.approx(flat(g).norm().item())
    assert got["health/grad_d"] == pytest.approx(flat(d).norm().item())
    layers = [d[0].weight.grad.norm().item(), d[1].weight.grad.norm().item()]
    assert got["health/grad_d_layer_min"] == pytest.approx(min(layers))
    assert got["health/grad_d_layer_max"] == pytest.approx(max(layers))
    at_bound = sum(int((p.abs() >= 0.0099).sum()) for p in d.parameters())
    assert got["health/clip_saturation"] == pytest.approx(at_bound / 17)
    assert got["health/d_accuracy"] == 1.0 and got["health/rt"] == 1.0


def test_diversity_is_one_for_the_same_spread_and_zero_for_a_point():
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    assert diversity(x, x).item() == pytest.approx(1.0)
    assert diversity(x * 0 + 1, x).item() == pytest.approx(0.0)
    assert diversity(2 * x, x).item() == pytest.approx(2.0)


def test_copy_rate_against_a_brute_force_search():
    rng = np.random.default_rng(0)
    train, heldout, fake = (
        rng.normal(size=(50, 3)),
        rng.normal(size=(40, 3)),
        rng.normal(size=(30, 3)),
    )
    fake[:10] = train[:10] + 1e-6  # ten copies
    dist = lambda a: np.array([min(np.linalg.norm(r - t) for t in train) for r in a])  # noqa: E731
    expected = np.mean(dist(fake) < np.median(dist(heldout)))
    got = copy_rate(*(torch.from_numpy(a) for a in (fake, heldout, train)))
    assert got == pytest.approx(expected) and got >= 10 / 30


# --- gan-doctor on real folders ---------------------------------------------------------------


@pytest.fixture(scope="module")
def clipped_run(tmp_path_factory) -> Path:
    """A WGAN whose clip is far too tight, 300 steps, with W&B offline: the doctor finds
    clip_too_tight during training and after."""
    work = tmp_path_factory.mktemp("doctor")
    done = gan_train(
        "loss=wgan",
        "loss.clip=0.0001",
        "trainer.steps=300",
        "trainer.eval_every=100",
        "trainer.sample_every=0",
        "trainer.ckpt_every=0",
        "hydra.run.dir=run",
        cwd=work,
    )
    assert done.returncode == 0, done.stderr
    (work / "run" / "stdout.txt").write_text(done.stdout)
    return work / "run"


def doctor(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "gan-doctor"), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_run_prints_its_finding_once_during_training(clipped_run):
    said = [
        line
        for line in (clipped_run / "stdout.txt").read_text().splitlines()
        if "doctor: clip_too_tight" in line
    ]
    assert len(said) == 1 and "try: gan-train" in said[0]
    assert "health/grad_g" in json.loads(
        (clipped_run / "metrics.jsonl").read_text().splitlines()[0]
    )


def test_the_finding_reaches_wandb_summary(clipped_run):
    summary = {}
    for record in wandb_records(clipped_run):
        if record.WhichOneof("record_type") == "summary":
            summary.update({i.key: json.loads(i.value_json) for i in record.summary.update})
    assert "critic/lipschitz" in summary.get("doctor/clip_too_tight", ""), summary.keys()
    assert summary["doctor/clip_too_tight"].startswith("since step")


def test_gan_doctor_on_a_run(clipped_run, tmp_path):
    done = doctor(str(clipped_run), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1. clip_too_tight" in done.stdout
    assert "try: gan-train loss=wgan" in done.stdout  # the run's overrides and the change
    assert (clipped_run / "doctor.png").is_file()
    d = gan_cli.diagnose(clipped_run)
    assert d.findings[0].rule == "clip_too_tight"
    assert d.findings[0].remedies[0].overrides == ("loss=wgan_gp",)


def test_gan_doctor_on_a_sweep(clipped_run, tmp_path):
    sweep = tmp_path / "sweep"
    for clip, lipschitz in [(0.0001, 1e-6), (0.1, 1.0), (0.2, 1.2)]:
        job = sweep / f"loss.clip={clip}"
        (job / ".hydra").mkdir(parents=True)
        config = yaml.safe_load((clipped_run / "config.yaml").read_text())
        config["loss"]["clip"] = clip
        (job / "config.yaml").write_text(yaml.safe_dump(config))
        (job / ".hydra" / "overrides.yaml").write_text(
            yaml.safe_dump(["loss=wgan", f"loss.clip={clip}"])
        )
        recs = series_records(
            dict(
                health__clip_saturation=lambda s: 0.9,
                health__grad_g=lambda s: 1.0,
                critic__lipschitz=lambda s, k=lipschitz: k,
            ),
            300,
        )
        (job / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    done = doctor(str(sweep), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "loss.clip=0.0001" in done.stdout and "clip_too_tight x1" in done.stdout
    assert "healthy x1" in done.stdout
    jobs = gan_cli.diagnose(sweep)
    assert [bool(d.findings) for d in jobs] == [True, False, False]


def test_gan_doctor_reads_a_hundred_job_sweep_quickly(clipped_run, tmp_path):
    import time

    for i in range(100):
        shutil.copytree(
            clipped_run,
            tmp_path / f"job{i:03d}",
            ignore=shutil.ignore_patterns("wandb", "samples", "checkpoints"),
        )
    start = time.perf_counter()
    jobs = gan_cli.diagnose(tmp_path)
    assert len(jobs) == 100 and all(d.findings for d in jobs)
    assert time.perf_counter() - start < 5  # the budget, with room on a busy CI


@pytest.mark.parametrize("case", ["empty", "cut", "old", "nothing", "missing"])
def test_gan_doctor_on_bad_input(case, clipped_run, tmp_path):
    run = tmp_path / "run"
    if case != "missing":
        run.mkdir()
    if case in ("empty", "cut", "old"):
        shutil.copy(clipped_run / "config.yaml", run / "config.yaml")
        lines = (clipped_run / "metrics.jsonl").read_text().splitlines()
        text = {
            "empty": "",
            "cut": lines[0] + "\n" + lines[1][:30],
            "old": "".join(
                json.dumps({k: v for k, v in json.loads(x).items() if not k.startswith("health/")})
                + "\n"
                for x in lines
            ),
        }
        (run / "metrics.jsonl").write_text(text[case])
    done = doctor(str(run), cwd=tmp_path)
    assert "Traceback" not in done.stderr
    if case in ("empty", "nothing", "missing"):
        assert done.returncode == 2, done.stdout + done.stderr
        assert len((done.stdout + done.stderr).strip().splitlines()) <= 2
    else:  # a partial diagnosis, naming what it could not check
        assert done.returncode in (0, 1) and "not checked" in done.stdout
        if case == "old":
            assert "clip_too_tight" in done.stdout  # it reads what an old run logged


def test_doctor_stop_with_an_unknown_rule_is_one_line(tmp_path):
    done = gan_train("doctor.stop=[mode_colapse]", "--cfg", "job", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "doctor.stop" in line and "mode_collapse" in line and "no_progress" in line


@pytest.mark.slow
def test_doctor_stop_ends_a_collapsed_sweep_job_with_its_checkpoint(tmp_path):
    done = gan_train(
        "-m",
        "loss=wgan",
        "loss.clip=0.0001,0.05",
        "trainer.steps=300",
        "trainer.eval_every=100",
        "trainer.sample_every=0",
        "doctor.stop=[clip_too_tight]",
        "logger=none",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # a stopped job is no failure
    sweep = tmp_path / "sweep"  # job folders are named by all their overrides
    (stopped,), (ok,) = sweep.glob("*loss.clip=0.0001,*"), sweep.glob("*loss.clip=0.05,*")
    status = json.loads((stopped / "status.json").read_text())
    assert status["status"] == "stopped" and "clip_too_tight" in status["error"]
    assert torch.load(stopped / "checkpoints" / "last.pt", weights_only=True)["step"] == 200
    assert json.loads((ok / "status.json").read_text())["status"] == "ok"
    assert torch.load(ok / "checkpoints" / "last.pt", weights_only=True)["step"] == 300


@pytest.mark.slow
def test_try_trains_the_remedies_and_says_which_cured(clipped_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(clipped_run, run)
    done = subprocess.run(
        [str(BIN / "gan-doctor"), str(run), "try=true", "try.n=1", "try.steps=200"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "loss=wgan_gp" in done.stdout and "cured" in done.stdout, done.stdout + done.stderr
    trial = run / "doctor_try" / "remedy_1"
    assert json.loads((trial / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 200
    assert "loss=wgan_gp" in yaml.safe_load((trial / ".hydra" / "overrides.yaml").read_text())
    assert done.returncode == (0 if "| yes" in done.stdout or " yes" in done.stdout else 1)


def test_a_config_from_before_the_doctor_gets_train_yamls_doctor_defaults():
    """A checkpoint of a run trained before the doctor carries no `doctor` node: typed,
    it gets the schema's defaults, which are train.yaml's."""
    from omegaconf import OmegaConf

    from gan_cli.config.schema import typed
    from tests.helpers import compose

    now = compose()
    old = OmegaConf.to_container(now)
    old.pop("doctor")
    assert typed(OmegaConf.create(old)).doctor == typed(now).doctor


@pytest.mark.slow  # 12 exact transport problems of 2,000 points
def test_the_toy_floors_are_the_datas_own_w1():
    from bench.doctor import toy_floors
    from gan_cli.doctor.rules import TOY_FLOOR

    measured = toy_floors()
    assert TOY_FLOOR.keys() == measured.keys()
    for dist, floor in measured.items():
        assert TOY_FLOOR[dist] == pytest.approx(floor, abs=0.001), dist
