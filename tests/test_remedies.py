"""The mode-collapse remedies, each against its math: packing (shapes, and a pack never
mixes real and generated samples), unrolled updates (exact at k = 0, a finite-difference
check for k > 0), the least-squares objective's closed form, R1 against a direct
gradient computation, and the learning-rate schedule (at chosen steps and over a
resume)."""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn
from torch.func import functional_call

from gan_cli.cli.gan_train import main as train_main
from gan_cli.config.build import assemble
from gan_cli.config.spec import check, specify
from gan_cli.constraints import CONSTRAINTS
from gan_cli.core.errors import UserError
from gan_cli.losses.least_squares import LeastSquares
from gan_cli.losses.minimax import Minimax
from gan_cli.models.pacgan import pack, packed_shape
from gan_cli.training import step
from gan_cli.training.checkpoint import load_checkpoint
from gan_cli.training.distributed import World
from gan_cli.training.unroll import Unroller, simulated_update
from tests.helpers import compose, image_data, jsonl

CPU = torch.device("cpu")
NO_AUTOCAST = contextlib.nullcontext()


def _gan(*overrides: str):
    return assemble(check(compose("trainer.device=cpu", "logger=none", *overrides)), CPU)


def _steps(gan, data, steps, first: int = 1) -> list[dict]:
    guard = step.Guard("stop", World())
    return [step.train_step(gan, data, n, guard, NO_AUTOCAST) for n in range(first, first + steps)]


# --- packing --------------------------------------------------------------------------------


def test_pack_joins_consecutive_samples_along_the_first_feature_axis():
    points = torch.arange(14.0).reshape(7, 2)
    packed = pack(points, 3)  # the seventh sample is left out
    assert packed.shape == (2, 6)
    assert torch.equal(packed[1], torch.cat([points[3], points[4], points[5]]))
    images = torch.randn(8, 3, 4, 4)
    assert pack(images, 2).shape == (4, 6, 4, 4) == (4, *packed_shape((3, 4, 4), 2))
    assert torch.equal(pack(images, 2)[1, 3:], images[3])  # channels of the pack's 2nd image
    assert pack(images, 1) is images


def _recording(critic: nn.Module) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    critic.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    return seen


def test_a_pack_is_all_real_or_all_generated():
    m, batch = 4, 16
    gan, data = _gan("loss=vanilla", f"loss.pack={m}", f"data.batch_size={batch}")
    # real samples have positive coordinates, generated ones negative: the sign tells
    sample = data.sample
    data.sample = lambda: sample().abs() + 1
    gan.generator.register_forward_hook(lambda module, args, out: -out.abs() - 1)
    seen = _recording(gan.critic)
    _steps(gan, data, 2)
    # each step: real and generated packs for the critic, generated ones for the generator
    assert len(seen) == 6 and all(x.shape == (batch, 2 * m) for x in seen)  # batch packs of m
    kinds = torch.cat([(x > 0).all(1).long() - (x < 0).all(1).long() for x in seen])
    assert (kinds != 0).all(), "a pack mixed real and generated samples"
    assert (kinds == 1).sum() == 2 * batch and (kinds == -1).sum() == 4 * batch


def test_the_gradient_penalty_draws_one_eps_per_pack():
    penalty = CONSTRAINTS["gradient_penalty"](gp_lambda=1.0)
    seen = []

    def critic(x):
        seen.append(x.detach())
        return x.sum(1)

    real, fake = torch.ones(64, 8), -torch.ones(64, 8)  # 64 packs of 4 two-d samples
    penalty.penalty(critic, real, fake)
    x_hat = seen[0]
    # x_hat = eps * 1 + (1 - eps) * (-1) = 2 eps - 1: constant along each pack
    assert torch.allclose(x_hat, x_hat[:, :1].expand_as(x_hat))
    assert x_hat[:, 0].std() > 0.1  # and different between packs


def test_evaluation_scores_packs_and_the_plot_scores_copies_of_a_point():
    gan, data = _gan("loss=wgan_gp", "loss.pack=2")
    points = torch.randn(5, 2)
    expected = gan.critic(torch.cat([points, points], 1))
    torch.testing.assert_close(gan.critic_on_points(points), expected)


# --- unrolling ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["adam", "rmsprop", "sgd"])
def test_a_simulated_step_is_the_optimizers_own(kind):
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    opt = {
        "adam": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.5, 0.9)),
        "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01),
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    }[kind](net.parameters())
    for _ in range(2):  # some state first
        opt.zero_grad()
        net(torch.randn(4, 3)).pow(2).sum().backward()
        opt.step()
    params = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt.zero_grad()
    net(torch.randn(4, 3)).pow(2).sum().backward()
    grads = {n: p.grad.clone() for n, p in net.named_parameters()}
    state = {n: dict(opt.state.get(p, {})) for n, p in net.named_parameters()}
    update = simulated_update(opt)
    opt.param_groups[0]["lr"] *= 0.3  # as a schedule does: the simulation follows
    simulated = update(params, grads, state)
    opt.step()
    for n, p in net.named_parameters():
        torch.testing.assert_close(simulated[n], p.detach(), rtol=1e-6, atol=1e-7)


def test_an_optimizer_the_simulation_cannot_follow_is_refused_before_the_run():
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], weight_decay=0.1)
    with pytest.raises(UserError, match="loss.unroll simulates"):
        simulated_update(opt)
    adagrad = ("optim.d._target_=torch.optim.Adagrad", "~optim.d.betas")
    with pytest.raises(UserError, match="got Adagrad"):
        specify(compose("loss=vanilla", "loss.unroll=2", *adagrad))
    specify(compose("loss=vanilla", *adagrad))  # without unrolling, any optimizer


def test_unrolling_zero_steps_makes_todays_updates_exactly():
    plain, data = _gan("loss=wgan_gp")
    unrolled, data2 = _gan("loss=wgan_gp")
    # the unrolled path, with nothing to unroll: the critic read through functional_call
    unrolled.unroller = Unroller(
        unrolled.critic, unrolled.opt_d, unrolled.objective, unrolled.constraint, steps=0
    )
    for gan, d in ((plain, data), (unrolled, data2)):
        torch.manual_seed(1)
        _steps(gan, d, 3)
    for a, b in ((plain.generator, unrolled.generator), (plain.critic, unrolled.critic)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name


def test_unrolling_changes_the_generators_update_not_the_critics():
    gans = {}
    for k in (0, 3):
        gan, data = _gan("loss=vanilla", f"loss.unroll={k}")
        torch.manual_seed(1)
        _steps(gan, data, 1)
        gans[k] = gan
    for (name, a), b in zip(
        gans[0].critic.state_dict().items(), gans[3].critic.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), f"the simulation moved the critic's {name}"
    g0, g3 = (list(gans[k].generator.parameters())[0] for k in (0, 3))
    assert not torch.equal(g0, g3)


@pytest.mark.parametrize("constraint", ["none", "gradient_penalty"])
def test_the_unrolled_generator_gradient_matches_finite_differences(constraint):
    """The total derivative of the generator's loss through k = 3 simulated Adam steps of
    the critic (whose losses depend on the generator through their fakes)."""
    torch.manual_seed(0)
    G = nn.Linear(1, 2).double()
    D = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    opt_d = torch.optim.Adam(D.parameters(), lr=0.05, betas=(0.5, 0.9))
    D(torch.randn(8, 2, dtype=torch.float64)).sum().backward()  # Adam has state
    opt_d.step()
    objective = Minimax()
    penalty = CONSTRAINTS[constraint](**({"gp_lambda": 1.0} if constraint != "none" else {}))
    unroller = Unroller(D, opt_d, objective, penalty, steps=3)
    batches = [(torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64))]
    batches *= 3
    z = torch.randn(8, 1, dtype=torch.float64)
    names = [n for n, _ in G.named_parameters()]

    def loss(params: dict) -> torch.Tensor:
        torch.manual_seed(5)  # the penalty's interpolation: the same at every evaluation
        generator = lambda z: functional_call(G, params, (z,))  # noqa: E731
        critic = unroller.critic_after(generator, batches, 1, first_update=0)
        return objective.g_loss(critic(generator(z)))

    params = {n: p.detach().clone().requires_grad_(True) for n, p in G.named_parameters()}
    grads = torch.autograd.grad(loss(params), [params[n] for n in names])
    h = 1e-6
    for name, grad in zip(names, grads, strict=True):
        numeric = torch.zeros_like(grad)
        for i in range(grad.numel()):
            shifted = []
            for sign in (1, -1):
                p = {n: v.detach().clone() for n, v in params.items()}
                p[name].view(-1)[i] += sign * h
                shifted.append(loss(p).item())
            numeric.view(-1)[i] = (shifted[0] - shifted[1]) / (2 * h)
        torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-8)
    # the look-ahead matters: without it the gradient is another
    direct = objective.g_loss(D(functional_call(G, params, (z,))))
    plain = torch.autograd.grad(direct, [params[n] for n in names])
    assert not torch.allclose(plain[0], grads[0], rtol=1e-3)


def test_unrolling_under_ddp_is_refused(monkeypatch):
    cfg = check(compose("trainer.device=cpu", "loss.unroll=2"))
    with pytest.raises(UserError, match="DistributedDataParallel"):
        assemble(cfg, CPU, World(rank=0, size=2))


# --- least squares --------------------------------------------------------------------------


def _support(p: torch.Tensor) -> torch.Tensor:
    """Sample indices whose empirical distribution is p exactly (p in multiples of 1/20)."""
    return torch.repeat_interleave(torch.arange(len(p)), (p * 20).round().long())


def test_least_squares_optimal_critic_and_its_pearson_chi2_link():
    p = torch.tensor([0.5, 0.25, 0.25, 0.0, 0.0], dtype=torch.float64)
    q = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.0], dtype=torch.float64)
    real, fake = _support(p), _support(q)
    seen = p + q > 0
    for a, b, c in ((0.0, 1.0, 1.0), (-1.0, 1.0, 0.0)):
        objective = LeastSquares(fake_label=a, real_label=b, g_target=c)
        table = torch.zeros(
            5, dtype=torch.float64, requires_grad=True
        )  # a critic that can be any function
        opt = torch.optim.LBFGS(
            [table],
            max_iter=500,
            tolerance_grad=1e-12,
            tolerance_change=0,
            line_search_fn="strong_wolfe",
        )

        def closure(table=table, opt=opt, objective=objective):
            opt.zero_grad()
            loss = objective.d_loss(table[real], table[fake])
            loss.backward()
            return loss

        opt.step(closure)
        optimal = (b * p + a * q) / (p + q)
        torch.testing.assert_close(table.detach()[seen], optimal[seen], atol=1e-5, rtol=0)
        value = objective.d_loss(table[real], table[fake]).item()
        closed = (0.5 * (b - a) ** 2 * p * q / (p + q))[seen].sum().item()
        assert value == pytest.approx(closed, abs=1e-6)
        if (a, b, c) == (-1.0, 1.0, 0.0):  # b - c = 1, b - a = 2: the paper's Sec. 3.2
            d = optimal.clone()
            v_g = (objective.g_loss(d[real]) + objective.g_loss(d[fake])).item()
            pearson = (((2 * q - (p + q)) ** 2) / (p + q))[seen].sum().item()
            assert 2 * v_g == pytest.approx(pearson, rel=1e-6)


# --- R1 -------------------------------------------------------------------------------------


def test_r1_is_half_gamma_times_the_mean_squared_gradient_norm_on_real_data():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(3, 8), nn.Softplus(), nn.Linear(8, 1))
    real = torch.randn(6, 3)
    r1 = CONSTRAINTS["r1"](r1_gamma=4.0)
    value = r1.penalty(critic, real, torch.randn(6, 3))
    norms = []
    for x in real:  # one sample at a time
        x = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        norms.append(g.pow(2).sum())
    assert value.item() == pytest.approx(2.0 * torch.stack(norms).mean().item(), rel=1e-6)
    value.backward()  # it trains the critic: second-order gradients flow
    assert critic[0].weight.grad is not None


def test_lazy_r1_applies_every_kth_critic_update_scaled_by_k():
    gan, data = _gan("loss=vanilla", "loss.constraint=r1", "loss.r1_every=4")
    outs = _steps(gan, data, 9)  # one critic update a step
    applied = [n for n, out in enumerate(outs) if "loss/penalty" in out]
    assert applied == [0, 4, 8]
    assert gan.critic_updates == 9
    # the value is 4 times the penalty of r1_every=1 on the same batch
    eager = CONSTRAINTS["r1"](r1_gamma=10.0)
    torch.manual_seed(3)
    real = data.sample()
    lazy = gan.constraint.penalty(gan.critic, real, real)
    assert lazy.item() == pytest.approx(4 * eager.penalty(gan.critic, real, real).item())


def test_r1_refuses_a_wasserstein_critic():
    with pytest.raises(
        UserError, match="loss.constraint=r1 does not fit loss.objective=wasserstein"
    ):
        check(compose("loss=wgan", "loss.constraint=r1"))


# --- the learning-rate schedule -------------------------------------------------------------


def test_a_linear_schedule_decays_to_zero_at_the_last_step():
    gan, data = _gan("loss=vanilla", "optim.schedule=linear", "trainer.steps=10")
    lrs = []
    for n in range(1, 11):
        lrs.append([g["lr"] for opt in (gan.opt_g, gan.opt_d) for g in opt.param_groups])
        _steps(gan, data, 1, first=n)
    assert lrs[0] == [2e-4, 2e-4]  # step 1 trains at the full rate
    assert lrs[4] == pytest.approx([2e-4 * 0.6] * 2)  # step 5: 1 - 4/10
    assert lrs[9] == pytest.approx([2e-4 * 0.1] * 2)
    assert gan.opt_g.param_groups[0]["lr"] == 0.0
    constant, _ = _gan("loss=vanilla")
    assert constant.schedules == []


def test_the_schedule_is_saved_and_resumed(workdir, in_process):
    """A run resumed from its step-10 checkpoint ends where the run that went on did:
    the resumed schedule continues from step 10, not from the top."""
    common = [
        "loss=vanilla",
        "optim.schedule=linear",
        "trainer.steps=20",
        "trainer.ckpt_every=10",
        "trainer.eval_every=0",
        "trainer.sample_every=0",
        "logger=none",
    ]
    straight = in_process(train_main, *common, "hydra.run.dir=straight", cwd=workdir)
    assert straight.returncode == 0, straight.stderr
    middle = workdir / "straight" / "checkpoints" / "step_0000010.pt"
    assert load_checkpoint(middle)["schedules"][0]["last_epoch"] == 10
    resumed = in_process(
        train_main, *common, f"trainer.resume={middle}", "hydra.run.dir=resumed", cwd=workdir
    )
    assert resumed.returncode == 0, resumed.stderr
    a, b = (
        load_checkpoint(workdir / r / "checkpoints" / "last.pt") for r in ("straight", "resumed")
    )
    for name, x in a["generator"].items():
        assert torch.equal(x, b["generator"][name]), name
    assert a["opt_g"]["param_groups"][0]["lr"] == b["opt_g"]["param_groups"][0]["lr"] == 0.0


# --- end to end -----------------------------------------------------------------------------


def test_every_switch_runs_through_gan_train(workdir, in_process):
    """One run with packing, unrolling, R1 (lazy), a schedule and EMA on toy data, and
    LSGAN with packing on images: what a user types."""
    toy = in_process(
        train_main,
        "loss=vanilla",
        "loss.pack=2",
        "loss.unroll=2",
        "loss.constraint=r1",
        "loss.r1_every=2",
        "optim.schedule=linear",
        "trainer.ema_decay=0.9",
        "trainer.steps=7",  # the last step's critic update is the 7th: penalized
        "trainer.eval_every=3",
        "trainer.sample_every=3",
        "data.heldout_size=200",  # exact W1 of 200 points, not 2,000: the mechanics are the point
        "logger=none",
        "hydra.run.dir=toy",
        cwd=workdir,
    )
    assert toy.returncode == 0, toy.stderr
    records = jsonl(workdir / "toy" / "metrics.jsonl")
    assert "modes/captured" in records[-1] and "wasserstein/exact" in records[-1]
    assert any("loss/penalty" in r for r in records)
    assert (workdir / "toy" / "samples" / "step_0000007.png").is_file()
    wgan = in_process(
        train_main,
        "loss=wgan_gp",
        "loss.pack=4",
        "trainer.steps=4",
        "trainer.eval_every=2",
        "data.heldout_size=200",
        "logger=none",
        "hydra.run.dir=wgan",
        cwd=workdir,
    )
    assert wgan.returncode == 0, wgan.stderr
    last = jsonl(workdir / "wgan" / "metrics.jsonl")[-1]
    assert last["critic/lipschitz"] > 0 and "wasserstein/heldout" in last


def test_lsgan_packs_images_along_channels(image_root):
    cfg = check(
        compose(*image_data("cifar10", image_root), "model=dcgan", "loss=lsgan", "loss.pack=2")
    )
    gan, data = assemble(cfg, CPU)
    seen = _recording(gan.critic)
    outs = _steps(gan, data, 1)
    assert seen[0].shape == (cfg.data.batch_size, 6, 32, 32)
    assert torch.isfinite(outs[0]["loss/g"])


@pytest.mark.parametrize("name", ["ring8_best", "grid25_best"])
def test_the_tuned_experiments_compose_and_take_overrides(name):
    cfg = check(compose(f"+experiment={name}", "trainer.seed=3"))
    assert cfg.data.distribution == name.split("_")[0]
    assert cfg.loss.pack > 1 and cfg.trainer.ema_decay > 0 and cfg.trainer.seed == 3
    assert check(compose(f"+experiment={name}", "loss.pack=1")).loss.pack == 1
