"""Every config option composes and trains a step; the toy data follows its definition."""

import math

import pytest
import torch
from omegaconf import OmegaConf

from gan_cli.cli.launch import fit_config as train
from gan_cli.config.compose import config_groups
from gan_cli.config.spec import check, specify
from gan_cli.constraints import CONSTRAINTS
from gan_cli.core.errors import UserError
from gan_cli.core.params import RUNTIME, signature_params
from gan_cli.data.toy2d import DISTRIBUTIONS, MIXTURES, Toy2D
from gan_cli.losses import OBJECTIVES
from tests.helpers import FAST, compose, image_data, jsonl

GROUPS = config_groups()  # every group, nested ones (loss/objective) included
OPTIONS = [
    (group, option) for group in ("data", "model", "loss", "logger") for option in GROUPS[group]
]


def test_defaults_are_the_documented_ones():
    cfg = compose()
    assert cfg.data.distribution == "ring8"
    assert cfg.model.generator._target_.endswith("mlp.Generator")
    assert cfg.loss.objective._target_.endswith("Wasserstein")
    assert cfg.logger.mode is None  # offline unless an API key or WANDB_MODE says otherwise


@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_every_option_composes_and_validates(group, option, image_root):
    if group == "data" and option != "toy2d":
        overrides = image_data(option, image_root)
    elif group == "model" and option != "mlp":  # convolutional models need images
        overrides = [*image_data("cifar10", image_root), f"model={option}"]
    else:
        overrides = [f"{group}={option}"]
    specify(compose(*overrides))


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_every_distribution_composes(distribution):
    specify(compose(f"data.distribution={distribution}"))


@pytest.mark.parametrize(  # the presets of the contract in make test; the rest (which have
    "loss",  # tests of their own: test_joint, test_presets) with the slow tests
    [
        pytest.param(g, marks=() if g in ("vanilla", "wgan", "wgan_gp", "sn") else pytest.mark.slow)
        for g in GROUPS["loss"]
    ],
)
def test_one_step_run_per_loss(loss, tmp_path):
    cfg = compose(f"loss={loss}", "logger=none", *FAST)
    metrics = train(cfg, tmp_path)
    rows = jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    for key in ("loss/d", "loss/g", "wasserstein/exact", "time/steps_per_s"):
        assert math.isfinite(metrics[key])
    assert (tmp_path / "checkpoints" / "last.pt").is_file()
    assert (tmp_path / "samples" / "step_0000002.png").is_file()


@pytest.mark.parametrize("loss", GROUPS["loss"])
def test_each_preset_carries_its_papers_defaults(loss):
    cfg = check(compose(f"loss={loss}", "data=mnist"))  # toy2d changes wgan_gp's lambda
    expected = {  # (objective, constraint, n_critic, optimizer, lr, betas) from the papers
        "vanilla": ("minimax", "none", 1, "Adam", 2e-4, [0.5, 0.999]),
        "wgan": ("wasserstein", "weight_clipping", 5, "RMSprop", 5e-5, None),
        "wgan_gp": ("wasserstein", "gradient_penalty", 5, "Adam", 1e-4, [0.0, 0.9]),
        "sn": ("hinge", "spectral_norm", 1, "Adam", 2e-4, [0.5, 0.999]),
        "fgan": ("fgan", "none", 1, "Adam", 2e-4, [0.5, 0.999]),
        "lsgan": ("least_squares", "none", 1, "RMSprop", 1e-4, None),
        "ali": ("ali", "none", 1, "Adam", 2e-4, [0.5, 0.999]),
        "veegan": ("veegan", "none", 1, "Adam", 2e-4, [0.5, 0.999]),
    }[loss]
    objective = _option(OBJECTIVES, cfg.loss.objective._target_)
    constraint = _option(CONSTRAINTS, cfg.loss.constraint._target_)
    for opt in (cfg.optim.g, cfg.optim.d, *([cfg.optim.r] if cfg.optim.r else [])):
        betas = list(opt.betas) if "betas" in opt else None
        got = (objective, constraint, cfg.loss.n_critic)
        assert (*got, opt._target_.split(".")[-1], opt.lr, betas) == expected
    special = {  # each parameter's default is its class's: declared once
        "wgan_gp": ("gp_lambda", 10),
        "wgan": ("clip", 0.01),
        "vanilla": ("saturating", False),
        "sn": ("n_power_iterations", 1),
        "fgan": ("divergence", "jensen_shannon"),
        "lsgan": ("real_label", 1.0),
        "veegan": ("recon_weight", 1.0),
    }
    if loss in special:  # ali has no parameter of its own
        key, value = special[loss]
        assert cfg.loss[key] == value
    if loss in ("ali", "veegan"):  # the reconstructor, with the generator's optimizer
        assert cfg.model.reconstructor._target_ == "gan_cli.models.joint.Reconstructor"
        assert cfg.optim.r == cfg.optim.g
    if loss == "wgan":
        assert cfg.data.batch_size == 64 and cfg.loss.critic_warmup is False


def _option(registry, target):
    return next(
        name for name, cls in registry.items() if f"{cls.__module__}.{cls.__qualname__}" == target
    )


# objective and constraint options, each with a preset that defines the keys it reads
NESTED = {"objective": OBJECTIVES, "constraint": CONSTRAINTS}


@pytest.mark.parametrize(("kind", "option"), [(k, o) for k in NESTED for o in GROUPS[f"loss/{k}"]])
def test_objectives_and_constraints_can_be_chosen_per_run(kind, option):
    on_pairs = kind == "objective" and OBJECTIVES[option].networks  # needs its reconstructor
    base = f"loss={option}" if on_pairs else "loss=sn"
    cfg = check(compose(base, f"loss.{kind}={option}"))
    assert _option(NESTED[kind], cfg.loss[kind]._target_) == option
    for param in signature_params(NESTED[kind][option], skip=RUNTIME):
        assert param.name in cfg.loss  # its parameters come along, at loss.<name>


def test_toy_wgan_gp_uses_the_authors_toy_lambda_unless_overridden():
    assert compose().loss.gp_lambda == 0.1  # gan_toy.py's LAMBDA
    assert compose("loss.gp_lambda=10").loss.gp_lambda == 10


def test_optimizer_is_overridable(tmp_path):
    cfg = compose(
        "optim.d._target_=torch.optim.RMSprop",
        "~optim.d.betas",
        "optim.d.lr=5e-5",
        "logger=none",
        *FAST,
    )
    train(cfg, tmp_path)
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert state["opt_d"]["param_groups"][0]["lr"] == 5e-5
    assert "alpha" in state["opt_d"]["param_groups"][0]  # an RMSprop state


def test_same_seed_same_numbers(tmp_path):
    def run(name):
        cfg = compose(
            "logger=none", "trainer.steps=6", "trainer.log_every=2", "data.heldout_size=300"
        )
        train(cfg, tmp_path / name)
        return [
            {k: v for k, v in r.items() if not k.startswith("time/")}
            for r in jsonl(tmp_path / name / "metrics.jsonl")
        ]

    assert run("a") == run("b")


@pytest.mark.parametrize("name", sorted(MIXTURES))
def test_mixtures_follow_the_wgan_gp_toy_code(name):
    data = Toy2D(name, batch_size=20000, seed=0)
    x = data.sample()
    centers, std = MIXTURES[name]
    nearest = torch.cdist(x, centers).argmin(1)
    offsets = x - centers[nearest]
    assert offsets.std().item() == pytest.approx(std, rel=0.05)
    counts = torch.bincount(nearest, minlength=len(centers)).float()
    assert counts.min() > 0.8 * counts.mean()  # every mode equally likely
    if name == "ring8":  # 8 centres at radius 2 / 1.414, 45 degrees apart
        assert torch.allclose(centers.norm(dim=1), torch.full((8,), 2 / 1.414))
    else:  # 5 x 5 grid with spacing 2 / 2.828
        assert sorted(set(centers[:, 0].tolist())) == pytest.approx(
            [2 * i / 2.828 for i in range(-2, 3)]
        )


def test_lines_is_the_wgan_papers_example():
    x = Toy2D("lines", batch_size=5000, seed=0).sample()
    assert (x[:, 0] == 0).all()
    assert 0 <= x[:, 1].min() and x[:, 1].max() <= 1
    assert x[:, 1].mean().item() == pytest.approx(0.5, abs=0.02)


def test_swissroll_has_the_toy_codes_scale():
    x = Toy2D("swissroll", batch_size=20000, seed=0).sample()
    # t ~ U[1.5 pi, 4.5 pi], points t (cos t, sin t) / 7.5: radius between 0.63 and 1.88 (+ noise)
    radius = x.norm(dim=1)
    assert radius.quantile(0.01) > 0.5 and radius.quantile(0.99) < 2.0


def test_heldout_is_fixed_and_separate_from_training_batches():
    a, b = Toy2D(batch_size=64, seed=3), Toy2D(batch_size=64, seed=3)
    assert torch.equal(a.heldout, b.heldout)
    assert torch.equal(a.sample(), b.sample())
    assert not torch.equal(a.sample()[:10], a.heldout[:10])


def test_trainer_threads_is_torchs_thread_count_and_a_positive_integer(tmp_path):
    before = torch.get_num_threads()
    try:
        train(compose("trainer.threads=2", "logger=none", *FAST), tmp_path)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(UserError, match="trainer.threads must be a positive integer, got 0"):
        check(compose("trainer.threads=0"))


def test_check_leaves_the_composed_config_as_it_was():
    """Resolving writes the drawn architecture and the critic's norm into a new config,
    the one a run writes to config.yaml; the config it was given does not change."""
    composed = compose("model=dcgan", "data=mnist", "loss=wgan_gp", "model.arch_seed=3")
    before = OmegaConf.to_yaml(composed)
    resolved = check(composed)
    assert OmegaConf.to_yaml(composed) == before
    assert resolved.model.discriminator.norm == "layer"  # the gradient penalty's, not batch
    assert composed.model.d_norm == "batch"
    drawn = {k: resolved.model[k] for k in ("g_act", "d_act", "g_depth", "d_depth")}
    assert drawn == {k: check(composed).model[k] for k in drawn}  # the same draw each time
