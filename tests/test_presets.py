"""Every loss preset end to end, and the mechanics each one relies on."""

import logging
import math

import pytest
import torch

from gan_cli.cli.gan_train import main as train_main
from gan_cli.cli.launch import fit_config as train
from gan_cli.constraints.weight_clipping import WeightClipping
from gan_cli.data.toy2d import MIXTURES, Toy2D
from gan_cli.losses.fgan import DIVERGENCES
from gan_cli.metrics.modes import mode_coverage
from gan_cli.training.step import CRITIC, GAN, GENERATOR, Network
from tests.helpers import FAST, compose, jsonl

ESTIMATES = {
    "vanilla": [],
    "wgan": ["wasserstein/critic", "wasserstein/heldout"],
    "wgan_gp": ["wasserstein/critic", "wasserstein/heldout"],
    "sn": ["wasserstein/critic", "wasserstein/heldout"],
    "fgan": ["divergence/estimate", "divergence/heldout"],
}
EVERY_LOSS = ["loss/d", "loss/g", "wasserstein/exact", "modes/captured", "modes/hq_fraction"]


@pytest.mark.parametrize("loss", sorted(ESTIMATES))
def test_every_preset_trains_through_gan_train_and_logs_its_estimate(loss, workdir, in_process):
    result = in_process(
        train_main, f"loss={loss}", "logger=none", "hydra.run.dir=run", *FAST, cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    rows = jsonl(workdir / "run" / "metrics.jsonl")
    for key in EVERY_LOSS + ESTIMATES[loss]:
        assert all(math.isfinite(r[key]) for r in rows), key
    others = {k for keys in ESTIMATES.values() for k in keys} - set(ESTIMATES[loss])
    assert not others & set(rows[-1])  # no estimate that this objective does not define


@pytest.mark.parametrize(  # make test trains two; the slow tests every divergence
    "divergence",
    [
        pytest.param(d, marks=() if i < 2 else pytest.mark.slow)
        for i, d in enumerate(sorted(DIVERGENCES))
    ],
)
def test_every_fgan_divergence_trains(divergence, tmp_path):
    cfg = compose("loss=fgan", f"loss.divergence={divergence}", "logger=none", *FAST)
    metrics = train(cfg, tmp_path)
    assert math.isfinite(metrics["divergence/estimate"])
    assert math.isfinite(metrics["divergence/heldout"])


def test_sn_nonsaturating_objective_logs_no_wasserstein_estimate(tmp_path):
    cfg = compose("loss=sn", "loss.objective=nonsaturating", "logger=none", *FAST)
    metrics = train(cfg, tmp_path)
    assert "wasserstein/critic" not in metrics and math.isfinite(metrics["loss/d"])


def test_weight_clipping_holds_after_every_critic_step(tmp_path, monkeypatch):
    clip, seen = 0.005, []
    original = WeightClipping.after_d_step

    def checked(self, critic):
        original(self, critic)
        seen.append(max(p.abs().max().item() for p in critic.parameters()))

    monkeypatch.setattr(WeightClipping, "after_d_step", checked)
    cfg = compose("loss=wgan", f"loss.clip={clip}", "logger=none", *FAST)
    train(cfg, tmp_path)
    assert len(seen) == 2 * 5  # steps * n_critic
    assert max(seen) <= clip
    assert max(seen) == pytest.approx(clip)  # the clip was active, not vacuous


def test_critic_warmup_follows_the_reference_schedule(tmp_path, monkeypatch):
    nets = {name: Network(torch.nn.Linear(1, 1), None, name) for name in (GENERATOR, CRITIC)}
    gan = GAN(nets, None, None, n_critic=5, critic_warmup=True)
    steps = {s: gan.critic_steps(s) for s in (1, 25, 26, 500, 501, 502, 1001)}
    assert steps == {1: 100, 25: 100, 26: 5, 500: 5, 501: 100, 502: 5, 1001: 100}
    calls = []
    monkeypatch.setattr(WeightClipping, "after_d_step", lambda self, critic: calls.append(1))
    train(compose("loss=wgan", "loss.critic_warmup=true", "logger=none", *FAST), tmp_path)
    assert len(calls) == 200


def test_clipping_with_a_momentum_optimizer_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        train(compose("loss=wgan", "logger=none", *FAST), tmp_path / "rmsprop")
    assert "momentum" not in caplog.text
    adam = compose("loss=wgan", "optim.d._target_=torch.optim.Adam", "logger=none", *FAST)
    with caplog.at_level(logging.WARNING):
        train(adam, tmp_path / "adam")
    assert "weight clipping with a momentum-based critic optimizer (Adam" in caplog.text


@pytest.mark.parametrize("name", sorted(MIXTURES))
def test_mode_coverage_of_a_perfect_generator(name):
    centers, std = MIXTURES[name]
    samples = Toy2D(name, batch_size=200_000, seed=0).sample()
    metrics = mode_coverage(samples, centers, std)
    assert metrics["modes/captured"] == len(centers)
    # within 3 std in 2-D: P(chi2_2 <= 9) = 1 - exp(-4.5), just under 99%
    assert metrics["modes/hq_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.002)


def test_mode_coverage_of_collapsed_and_lost_generators():
    centers, std = MIXTURES["ring8"]
    collapsed = centers[3] + std * torch.randn(2500, 2)
    assert mode_coverage(collapsed, centers, std)["modes/captured"] == 1
    lost = torch.zeros(2500, 2)  # the centre of the ring: near no mode
    assert mode_coverage(lost, centers, std) == {"modes/captured": 0.0, "modes/hq_fraction": 0.0}
    half = torch.cat([collapsed[:1250], lost[:1250]])
    assert mode_coverage(half, centers, std)["modes/hq_fraction"] == pytest.approx(0.5, abs=0.02)


def test_fgan_gan_divergence_is_the_non_saturating_gan(tmp_path):
    """With f(u) = u log u - (u + 1) log(u + 1), the f-GAN critic loss is the GAN
    discriminator loss and the alternative generator update is the non-saturating one:
    the same seed gives the same run, number for number."""
    runs = {}
    for name, loss in (
        ("vanilla", ["loss=vanilla"]),
        ("fgan", ["loss=fgan", "loss.divergence=gan"]),
    ):
        train(compose(*loss, "logger=none", *FAST), tmp_path / name)
        runs[name] = jsonl(tmp_path / name / "metrics.jsonl")
    for a, b in zip(runs["vanilla"], runs["fgan"], strict=True):
        for key in ("loss/d", "loss/g", "wasserstein/exact", "modes/hq_fraction"):
            assert a[key] == pytest.approx(b[key], rel=1e-6), key
