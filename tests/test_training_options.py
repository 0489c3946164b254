"""How a run may train, the same run either way: bf16 autocast, torch.compile, the
generator's moving average, the device auto picks, and what steps per second count."""

from __future__ import annotations

import pytest
import torch

from gan_cli.cli.launch import fit_config as run_training
from gan_cli.constraints.gradient_penalty import GradientPenalty
from gan_cli.models.mlp import Discriminator
from gan_cli.training import loop
from gan_cli.training.checkpoint import load_checkpoint
from tests.helpers import (
    CADENCE,
    compose,
    jsonl,
)


@pytest.mark.parametrize("preset", ["vanilla", "wgan", "wgan_gp", "sn", "fgan"])
def test_bf16_runs_every_loss(preset, tmp_path):
    cfg = compose(
        f"loss={preset}", "trainer.precision=bf16", *CADENCE, "trainer.steps=10", "logger=none"
    )
    metrics = run_training(cfg, tmp_path)
    assert all(
        v == v and abs(v) != float("inf") for k, v in metrics.items() if k.startswith("loss/")
    )


def test_gradient_penalty_under_bf16_matches_float32():
    torch.manual_seed(0)
    D = Discriminator(in_shape=(2,), hidden_dim=64, n_layers=2)
    real, fake = torch.randn(512, 2), torch.randn(512, 2) + 2
    gp = GradientPenalty(gp_lambda=10.0)
    torch.manual_seed(1)
    p32 = gp.penalty(D, real, fake)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        p16 = gp.penalty(D, real, fake)
    assert p16.dtype == torch.float32
    assert abs(p16.item() - p32.item()) <= 0.02 * p32.item()
    assert gp.double_backward


def test_ema_generator_is_the_average_of_the_weights(tmp_path, monkeypatch):
    """ema_0 = w_1, ema_t = d ema_{t-1} + (1 - d) w_t, computed here from every step's
    weights, equals the checkpoint's generator_ema; samples and evaluation use it."""
    snapshots = []
    original = loop.train_step

    def recording(gan, *args):
        out = original(gan, *args)
        snapshots.append({k: v.clone() for k, v in gan.generator.state_dict().items()})
        assert gan.sampler is gan.ema.module
        return out

    monkeypatch.setattr(loop, "train_step", recording)
    cfg = compose(
        "loss=vanilla", "trainer.ema_decay=0.8", *CADENCE, "trainer.steps=12", "logger=none"
    )
    run_training(cfg, tmp_path)
    expected = dict(snapshots[0])
    for weights in snapshots[1:]:
        expected = {k: 0.8 * expected[k] + 0.2 * weights[k] for k in expected}
    ema = load_checkpoint(tmp_path / "checkpoints" / "last.pt")["generator_ema"]
    for k in expected:
        torch.testing.assert_close(ema[k], expected[k])
    assert not torch.equal(ema["net.0.weight"], snapshots[-1]["net.0.weight"])


@pytest.mark.parametrize(
    ("preset", "critic_compiled"),
    [
        pytest.param(*case, marks=pytest.mark.slow)
        for case in (("wgan_gp", False), ("vanilla", True))
    ],
)
def test_compile_wraps_the_networks_where_it_helps(preset, critic_compiled, tmp_path, monkeypatch):
    """The generator is compiled; the critic too, unless its penalty needs a double
    backward. The compiled run computes what the eager one does."""
    seen = {}
    original = loop.train

    def keep(gan, *args, **kwargs):
        seen["forwards"] = gan.forwards
        return original(gan, *args, **kwargs)

    monkeypatch.setattr(loop, "train", keep)
    common = [f"loss={preset}", *CADENCE, "trainer.steps=5", "logger=none"]
    eager = run_training(compose(*common), tmp_path / "eager")
    compiled = run_training(compose(*common, "trainer.compile=true"), tmp_path / "compiled")
    nets = seen["forwards"]
    assert isinstance(nets.g, torch._dynamo.eval_frame.OptimizedModule)
    assert isinstance(nets.d, torch._dynamo.eval_frame.OptimizedModule) == critic_compiled
    for key in ("loss/d", "loss/g"):
        assert compiled[key] == pytest.approx(eager[key], rel=1e-3, abs=1e-4)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_device_auto_picks_cuda_then_mps_then_cpu(cuda, mps, expected, monkeypatch):
    from gan_cli.config.checks import resolve_device
    from gan_cli.core.errors import UserError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)
    if not cuda:
        with pytest.raises(UserError, match="trainer.device=cuda is not available"):
            resolve_device("cuda")


def test_steps_per_s_counts_training_steps_only(tmp_path, monkeypatch):
    """On a clock where a training step takes 10 ms and an evaluation 5 s, the rate is
    100 steps a second whether the run evaluates every step or never, and each
    evaluation's seconds are logged beside it."""
    now = {"t": 0.0}
    monkeypatch.setattr(loop.time, "perf_counter", lambda: now["t"])
    step, evaluate = loop.train_step, loop.evaluate

    def slow_step(*args):
        now["t"] += 0.01
        return step(*args)

    def slow_evaluation(*args):
        now["t"] += 5.0
        return evaluate(*args)

    monkeypatch.setattr(loop, "train_step", slow_step)
    monkeypatch.setattr(loop, "evaluate", slow_evaluation)
    common = [*CADENCE, "trainer.steps=20", "trainer.log_every=5", "logger=none"]
    for every in (1, 0):
        run_training(compose(*common, f"trainer.eval_every={every}"), tmp_path / str(every))
    rates = {
        every: [
            r["time/steps_per_s"]
            for r in jsonl(tmp_path / str(every) / "metrics.jsonl")
            if "time/steps_per_s" in r
        ]
        for every in (1, 0)
    }
    assert rates[1] == pytest.approx([100.0] * 4) and rates[0] == pytest.approx([100.0] * 4)
    evaluated = [r for r in jsonl(tmp_path / "1" / "metrics.jsonl") if "time/eval_s" in r]
    assert [r["time/eval_s"] for r in evaluated] == pytest.approx([5.0] * 20)
