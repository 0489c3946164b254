"""GANs on pairs (loss=ali, loss=veegan): the objectives against hand-computed values,
the networks of each family, the reconstruction metrics against closed forms, and a
training step that trains all three networks (and only through their own losses)."""

from __future__ import annotations

import math

import pytest
import torch

from gan_cli.cli.launch import fit_config as train
from gan_cli.config.build import assemble, critic, reconstructor
from gan_cli.config.spec import check
from gan_cli.losses.ali import ALI
from gan_cli.losses.joint import JointBatch
from gan_cli.losses.veegan import VEEGAN
from gan_cli.metrics.recon import frechet_to_standard_normal
from gan_cli.models.joint import JointCritic, Reconstructor
from gan_cli.training.distributed import World
from gan_cli.training.joint import joint_step
from gan_cli.training.step import Guard, autocast
from tests.helpers import FAST, compose, jsonl


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def pairs(real, fake, z=None, fake_x=None, reconstruct=None) -> JointBatch:
    real = torch.tensor(real, requires_grad=True)
    fake = torch.tensor(fake, requires_grad=True)
    z = torch.zeros(len(real), 2) if z is None else z
    fake_x = torch.zeros(len(real), 2) if fake_x is None else fake_x
    return JointBatch(real, fake, z, fake_x, reconstruct or (lambda x: x))


def test_ali_losses_are_the_authors_by_hand():
    p = pairs([0.0, 2.0], [1.0, -1.0])
    phases, extra = ALI().phases(p)
    d = (softplus(-0.0) + softplus(-2.0)) / 2 + (softplus(1.0) + softplus(-1.0)) / 2
    gf = (softplus(0.0) + softplus(2.0)) / 2 + (softplus(-1.0) + softplus(1.0)) / 2
    assert phases["loss/d"].loss.item() == pytest.approx(d)
    assert phases["loss/g"].loss.item() == pytest.approx(gf)
    assert phases["loss/d"].networks == ("discriminator",)
    assert set(phases["loss/g"].networks) == {"generator", "reconstructor"}
    assert extra == {}
    # D raises its logit on the data's pairs and lowers it on the generator's; G and F the reverse
    real_grad, fake_grad = torch.autograd.grad(phases["loss/d"].loss, [p.real_out, p.fake_out])
    assert (real_grad < 0).all() and (fake_grad > 0).all()
    real_grad, fake_grad = torch.autograd.grad(phases["loss/g"].loss, [p.real_out, p.fake_out])
    assert (real_grad > 0).all() and (fake_grad < 0).all()


def test_veegan_losses_are_algorithm_1_by_hand():
    z = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    fake_x = torch.tensor([[0.5, 0.5], [1.0, 1.0]])
    reconstruct = lambda x: 2 * x  # noqa: E731 - F(G(z)) = [[1, 1], [2, 2]]
    p = pairs([0.5, -0.5], [1.0, 3.0], z, fake_x, reconstruct)
    phases, extra = VEEGAN(recon_weight=1.0).phases(p)
    recon = ((0**2 + 1**2) + (2**2 + 0**2)) / 2  # ||z - F(G(z))||^2, batch mean
    d = (softplus(-1.0) + softplus(-3.0)) / 2 + (softplus(0.5) + softplus(-0.5)) / 2
    assert extra["loss/recon"].item() == pytest.approx(recon)
    assert phases["loss/d"].loss.item() == pytest.approx(d)
    assert phases["loss/g"].loss.item() == pytest.approx((1.0 + 3.0) / 2 + recon)
    assert VEEGAN(recon_weight=0.5).phases(p)[0]["loss/g"].loss.item() == pytest.approx(
        2.0 + 0.5 * recon
    )
    # D: generated pairs are label 1, the data's label 0; G lowers the raw logit of its pairs
    real_grad, fake_grad = torch.autograd.grad(phases["loss/d"].loss, [p.real_out, p.fake_out])
    assert (real_grad > 0).all() and (fake_grad < 0).all()
    (fake_grad,) = torch.autograd.grad(phases["loss/g"].loss, [p.fake_out])
    assert torch.allclose(fake_grad, torch.full((2,), 0.5))  # d mean(l) / d l_i = 1/B


@pytest.mark.parametrize(
    ("model", "shape", "z_dim"),
    [("mlp", (2,), 2), ("dcgan", (1, 32, 32), 100), ("resnet", (3, 32, 32), 128)],
)
def test_pair_critic_and_reconstructor_of_each_family(model, shape, z_dim):
    data = "toy2d" if model == "mlp" else ("mnist" if shape[0] == 1 else "cifar10")
    cfg = check(compose("loss=veegan", f"data={data}", f"model={model}", *FAST))
    D, F = critic(cfg, shape), reconstructor(cfg, shape)
    assert isinstance(D, JointCritic) and isinstance(F, Reconstructor)
    assert D.at_input == (model == "mlp")  # points: the pair is one vector (ALI's toy critic)
    x, z = torch.randn(4, *shape), torch.randn(4, z_dim)
    assert D(x, z).shape == (4,)
    assert F(x).shape == (4, z_dim)
    assert F.conv == (model != "mlp")  # images: a DCGAN-like encoder


def whitened(n: int, d: int) -> torch.Tensor:
    """n codes (n, d) whose sample mean is exactly 0 and sample covariance exactly I."""
    x = torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = x - x.mean(0)
    cov = torch.cov(x.T)
    return x @ torch.linalg.inv(torch.linalg.cholesky(cov)).T


def test_recon_data_is_the_frechet_distance_to_the_prior():
    codes = whitened(500, 3)
    assert frechet_to_standard_normal(codes) == pytest.approx(0.0, abs=1e-9)
    mu = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    assert frechet_to_standard_normal(codes + mu) == pytest.approx(1 + 4 + 0.25)
    # N(0, s^2 I): d + d s^2 - 2 d s = d (s - 1)^2
    assert frechet_to_standard_normal(3 * codes) == pytest.approx(3 * (3 - 1) ** 2)
    collapsed = torch.zeros(100, 2, dtype=torch.float64)  # every code the same point
    assert frechet_to_standard_normal(collapsed) == pytest.approx(2.0)  # tr(I) alone


@pytest.mark.parametrize("loss", ["ali", "veegan"])
def test_one_step_trains_each_network_with_its_own_loss(loss):
    cfg = check(compose(f"loss={loss}", "trainer.device=cpu", *FAST))
    gan, data = assemble(cfg, torch.device("cpu"))
    before = {
        n: [p.detach().clone() for p in net.module.parameters()] for n, net in gan.networks.items()
    }
    out = joint_step(gan, data, 1, Guard("stop", World()), autocast(torch.device("cpu"), "32"))
    assert set(gan.networks) == {"generator", "discriminator", "reconstructor"}
    for name, net in gan.networks.items():
        moved = [
            not torch.equal(a, b)
            for a, b in zip(before[name], net.module.parameters(), strict=True)
        ]
        assert all(moved), name
    assert {"loss/d", "loss/g"} <= set(out)
    assert ("loss/recon" in out) == (loss == "veegan")


def test_the_critic_phase_leaves_the_generator_and_reconstructor_alone():
    """With loss.n_critic = 2 the first update trains the critic alone: after a step with
    k = 2 the generator has taken one update, as after a step with k = 1."""
    cfgs = [check(compose("loss=ali", f"loss.n_critic={k}", *FAST)) for k in (1, 2)]
    gens = []
    for cfg in cfgs:
        gan, data = assemble(cfg, torch.device("cpu"))
        joint_step(gan, data, 1, Guard("stop", World()), autocast(torch.device("cpu"), "32"))
        gens.append(gan)
    assert gens[1].critic_updates == 2 and gens[0].critic_updates == 1
    for name in ("generator", "reconstructor"):
        steps = gens[1].networks[name].optimizer.state_dict()["state"][0]["step"]
        assert steps == 1, name


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_veegan_learns_to_reconstruct(tmp_path):
    """A short run: recon/latent falls well below its value at the first evaluation, and
    the checkpoint holds the reconstructor and its optimizer."""
    cfg = compose(
        "loss=veegan",
        "trainer.steps=300",
        "trainer.eval_every=20",
        "trainer.sample_every=0",
        "trainer.log_every=20",
        "data.heldout_size=500",
        "logger=none",
    )
    train(cfg, tmp_path)
    rows = [r for r in jsonl(tmp_path / "metrics.jsonl") if "recon/latent" in r]
    assert rows[-1]["recon/latent"] < 0.5 * rows[0]["recon/latent"]
    assert all(math.isfinite(r["recon/data"]) for r in rows)
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert {"reconstructor", "opt_r", "generator", "discriminator"} <= set(state)


@pytest.mark.parametrize("objective", [ALI, VEEGAN])
def test_latent_noise_samples_around_the_reconstruction(objective):
    f_x = torch.full((20_000, 2), 1.5)
    assert torch.equal(objective(latent_noise=0).code(f_x), f_x)  # a deterministic F
    # by default ALI's encoder is deterministic (BiGAN's), VEEGAN's N(F(x), I) (its code's)
    assert objective().latent_noise == (1.0 if objective is VEEGAN else 0.0)
    codes = objective(latent_noise=0.3).code(f_x)
    assert codes.std(dim=0).tolist() == pytest.approx([0.3, 0.3], rel=0.03)
    assert codes.mean(dim=0).tolist() == pytest.approx([1.5, 1.5], abs=0.01)


def test_a_resumed_veegan_run_continues_exactly(tmp_path):
    """10 steps, then 10 more from the checkpoint, give the straight 20 steps' weights
    (all three networks and their optimizers) and metrics."""
    common = ["loss=veegan", "logger=none", "trainer.eval_every=5", "trainer.sample_every=0"]
    common += ["trainer.log_every=5", "data.heldout_size=300", "trainer.ema_decay=0.9"]
    train(compose(*common, "trainer.steps=20"), tmp_path / "straight")
    train(compose(*common, "trainer.steps=10"), tmp_path / "resumed")
    train(compose(*common, "trainer.steps=20", "trainer.resume=auto"), tmp_path / "resumed")
    a, b = (torch.load(tmp_path / r / "checkpoints" / "last.pt") for r in ("straight", "resumed"))
    for key in ("generator", "discriminator", "reconstructor", "generator_ema"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    assert a["opt_r"]["state"][0]["step"] == b["opt_r"]["state"][0]["step"] == 20

    def rows(run):
        return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in jsonl(run)]

    assert rows(tmp_path / "straight" / "metrics.jsonl") == rows(
        tmp_path / "resumed" / "metrics.jsonl"
    )


@pytest.mark.parametrize("loss", ["veegan", "ali"])
def test_the_ring8_veegan_experiment_composes_and_takes_another_joint_loss(loss):
    cfg = check(compose("+experiment=ring8_veegan", f"loss={loss}", "trainer.seed=3"))
    assert cfg.data.distribution == "ring8" and cfg.loss.latent_noise == 0.3
    assert (cfg.optim.g.lr, cfg.optim.d.lr, cfg.optim.r.lr) == (1e-3, 1e-4, 1e-3)
    assert cfg.loss.objective._target_.endswith(loss.upper()) and cfg.trainer.seed == 3
