"""Bad input: one clear line naming the key and what is allowed, non-zero exit, no run."""

import logging

import pytest
import torch

from gan_cli.cli.gan_train import main
from tests.helpers import compose, gan_train, run_in_process

CASES = {
    "unknown group option": (["loss=foo"], ["loss=foo", "vanilla", "wgan_gp"]),
    "unknown data option": (["data=imagenet"], ["data=imagenet", "toy2d"]),
    "unknown key": (["trainer.stpes=10"], ["trainer.stpes", "did you mean trainer.steps?"]),
    "added key nothing reads": (["+trainer.step=10"], ["+trainer.step", "trainer.steps?"]),
    "added top-level key": (["+lr=0.1"], ["+lr", "reads no such key"]),
    "optimizer class that does not exist": (
        ["optim.d._target_=torch.optim.Foo"],
        ["optim.d._target_=torch.optim.Foo", "not a class"],
    ),
    "optimizer target that is a module": (
        ["optim.g._target_=torch.optim.adam"],
        ["optim.g._target_=torch.optim.adam", "not a class"],
    ),
    "objective class that does not exist": (
        ["loss.objective._target_=gan_cli.losses.Foo"],
        ["loss.objective._target_=gan_cli.losses.Foo", "not a class"],
    ),
    "data class that does not exist": (
        ["data._target_=gan_cli.data.Foo"],
        ["data._target_=gan_cli.data.Foo", "not a class"],
    ),
    "generator target that is a number": (
        ["model.generator._target_=torch.pi"],
        ["model.generator._target_=torch.pi", "not a class"],
    ),
    "packs of pairs": (["loss=veegan", "loss.pack=2"], ["loss.pack=2", "loss=veegan", "pack=1"]),
    "unrolled pairs": (["loss=ali", "loss.unroll=3"], ["loss.unroll=3", "loss=ali", "unroll=0"]),
    "conditional pairs": (
        [
            "loss=veegan",
            "data=cifar10",
            "data.download=false",
            "model=dcgan",
            "model.conditional=projection",
        ],
        ["model.conditional=projection", "loss=veegan"],
    ),
    "a penalty on pairs": (
        ["loss=ali", "loss.constraint=gradient_penalty"],
        ["loss.constraint=gradient_penalty", "pairs", "none, weight_clipping or spectral_norm"],
    ),
    "pairs without a reconstructor": (
        ["loss=vanilla", "loss.objective=veegan"],
        ["loss.objective=veegan needs a reconstructor", "use loss=veegan"],
    ),
    "a mixture of conditional generators": (
        ["+boost=adagan", "data=cifar10", "data.download=false", "model=dcgan"]
        + ["model.conditional=projection"],
        ["+boost=adagan mixes unconditional generators"],
    ),
    "required key": (["data=image_folder", "model=dcgan"], ["data.path is required"]),
    "metric that does not fit the data": (
        ["metrics.eval=[sliced_w1]"],
        ["metrics.eval: sliced_w1 applies to images only"],
    ),
    "unknown metric": (["metrics.eval=[fidd]"], ["fidd is not a metric", "exact_w1"]),
    "unknown top-level key": (["foo=1"], ["foo", "trainer"]),
    "wrong type": (["trainer.steps=abc"], ["trainer.steps", "positive integer", "abc"]),
    "zero steps": (["trainer.steps=0"], ["trainer.steps", "positive integer"]),
    "negative steps": (["trainer.steps=-5"], ["trainer.steps", "positive integer"]),
    "zero batch size": (["data.batch_size=0"], ["data.batch_size", "positive integer"]),
    "negative batch size": (["data.batch_size=-1"], ["data.batch_size", "positive integer"]),
    "unknown distribution": (
        ["data.distribution=moons"],
        ["data.distribution", "ring8|grid25|swissroll|lines", "moons"],
    ),
    "unknown device": (["trainer.device=tpu"], ["trainer.device", "auto|cpu|cuda|mps"]),
    "bad logger mode": (["logger.mode=sometimes"], ["logger.mode", "online|offline|disabled"]),
    "optimizer argument": (["optim.d._target_=torch.optim.RMSprop"], ["optim.d", "betas"]),
    "negative lambda": (["loss.gp_lambda=-1"], ["loss.gp_lambda", ">= 0"]),
    "key of another loss": (["loss=vanilla", "loss.gp_lambda=1"], ["loss.gp_lambda", "n_critic"]),
    "syntax error": (["trainer.steps=[1"], ["trainer.steps"]),
    "negative clip": (["loss=wgan", "loss.clip=-0.01"], ["loss.clip", "positive number"]),
    "unknown divergence": (
        ["loss=fgan", "loss.divergence=wasserstein"],
        ["loss.divergence", "kl|reverse_kl|pearson|neyman|squared_hellinger"],
    ),
    "unknown objective": (["loss=sn", "loss.objective=lsgan"], ["loss.objective=lsgan", "hinge"]),
    "unknown constraint": (["loss.constraint=gp"], ["loss.constraint=gp", "gradient_penalty"]),
    "missing resume path": (["trainer.resume=nowhere/last.pt"], ["trainer.resume", "nowhere"]),
    "unknown nan policy": (["trainer.nan_policy=ignore"], ["trainer.nan_policy", "stop|skip"]),
    "unknown precision": (["trainer.precision=16"], ["trainer.precision", "32|bf16"]),
    "ema decay of 1": (["trainer.ema_decay=1"], ["trainer.ema_decay", "[0, 1)"]),
    "negative keep": (["trainer.keep_checkpoints=-1"], ["trainer.keep_checkpoints", ">= 0"]),
    "learning rate not a number": (["optim.g.lr=fast"], ["optim.g.lr=fast: a number"]),
    "betas not a pair": (["optim.d.betas=[0.5]"], ["optim.d.betas=[0.5]: 2 numbers, like"]),
    "betas not numbers": (["optim.d.betas=[a,b]"], ["optim.d.betas=['a', 'b']: 2 numbers"]),
    "added argument not a number": (["+optim.d.weight_decay=x"], ["optim.d.weight_decay=x"]),
    "zero threads": (["trainer.threads=0"], ["trainer.threads", "positive integer"]),
    "unknown nonlinearity": (["model.g_act=swish"], ["model.g_act", "relu|leaky_relu|softplus"]),
    "depth the resolution cannot hold": (
        ["model=dcgan", "data=cifar10", "data.download=false", "model.d_depth=3"],
        ["model.d_depth=3", "at least 4 layers"],
    ),
    "resnet depth between blocks": (
        ["model=resnet", "data=cifar10", "data.download=false", "model.g_depth=9"],
        ["model.g_depth=9", "8 + 2k"],
    ),
    "critic family that cannot read the data": (
        ["+arch=g_mlp"],  # an MLP generator and DCGAN's critic, on 2-D points
        ["model.discriminator=dcgan does not fit", "model=mlp fits any data"],
    ),
    "critic family without its knobs": (
        ["model/discriminator=dcgan"],
        ["model.discriminator.d_channels", "model.d_channels' not found"],
    ),
    "conditional generator without batch norm": (
        [
            "model=dcgan",
            "data=cifar10",
            "data.download=false",
            "model.g_norm=none",
            "model.conditional=projection",
        ],
        ["model.g_norm=none", "batch norm"],
    ),
    "arch seed not an integer": (["model.arch_seed=x"], ["model.arch_seed=x", "an integer"]),
}


def _check_one_line(code: int, output: str, must_mention: list[str], workdir) -> None:
    assert code != 0
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("gan-train: error:")
    for text in must_mention:
        assert text in lines[0], (text, lines[0])
    assert list(workdir.iterdir()) == []  # no run folder, no W&B run


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_line(case, workdir, capsys, monkeypatch, caplog):
    args, must_mention = CASES[case]
    code, output = run_in_process(main, args, workdir, capsys, monkeypatch)
    _check_one_line(code, output, must_mention, workdir)
    # what a library logs would be more lines in a terminal (pytest catches it here)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(  # a process each (seconds): make test starts one, the slow tests all
    "case",
    [
        pytest.param(c, marks=() if c == "unknown key" else pytest.mark.slow)
        for c in [
            "unknown group option",
            "wrong type",
            "unknown key",
            "data class that does not exist",
        ]
    ],
)
def test_bad_input_through_the_installed_command(case, workdir):
    """The same, as a user's shell sees it: no traceback, a non-zero exit status."""
    args, must_mention = CASES[case]
    result = gan_train(*args, cwd=workdir)
    _check_one_line(result.returncode, result.stdout + result.stderr, must_mention, workdir)


def test_bad_value_in_a_sweep_fails_before_any_job(workdir, capsys, monkeypatch):
    code, output = run_in_process(main, ["-m", "loss=vanilla,foo"], workdir, capsys, monkeypatch)
    assert code != 0
    assert "loss=foo is not an option" in output
    assert list(workdir.iterdir()) == []


def test_optimizer_arguments_may_be_added(workdir, capsys, monkeypatch):
    """+ adds keys only where any key is valid: an optimizer's own arguments."""
    from gan_cli.cli.command_line import check_command_line

    args = ["+optim.d.weight_decay=0.01", "logger=none"]
    assert check_command_line(args).args == args


def test_integers_where_the_optimizer_takes_floats_are_floats():
    """The SNGAN paper's betas typed as [0,0.9]: torch's Adam wants floats (it refuses
    an int and a float), and a user who writes 0 means 0.0."""
    from gan_cli.config.build import optimizer

    cfg = compose("optim.g.betas=[0,0.9]", "optim.g.lr=1", "+optim.g.weight_decay=0")
    opt = optimizer(cfg, "optim.g", [torch.zeros(1, requires_grad=True)])
    group = opt.param_groups[0]
    assert group["betas"] == (0.0, 0.9) and all(type(b) is float for b in group["betas"])
    assert type(group["lr"]) is float and type(group["weight_decay"]) is float
