"""The losses against the theory: closed-form optima on fixed distributions.

The generator is held fixed and only the critic trains, so the critic's estimate must
reach the value the theory predicts for that pair of distributions.
"""

import functools
import math
from types import SimpleNamespace

import pytest
import scipy.integrate
import scipy.stats
import torch
from torch import nn

from gan_cli.constraints.base import Constraint
from gan_cli.constraints.gradient_penalty import GradientPenalty
from gan_cli.constraints.spectral_norm import SpectralNorm
from gan_cli.constraints.weight_clipping import WeightClipping
from gan_cli.losses.fgan import DIVERGENCES, FDivergence
from gan_cli.losses.hinge import Hinge
from gan_cli.losses.minimax import Minimax
from gan_cli.losses.wasserstein import Wasserstein
from gan_cli.metrics import REGISTRY, Evaluation
from gan_cli.models.mlp import Discriminator


def train_critic(objective, constraint, real, fake, steps, lr=1e-3, batch=512, dim=2, hidden=64):
    """Train a fresh MLP critic alone on samplers real(n), fake(n) -> (n, dim)."""
    torch.manual_seed(0)
    critic = constraint.prepare(Discriminator((dim,), hidden_dim=hidden, n_layers=2))
    opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.999))
    for _ in range(steps):
        x, y = real(batch), fake(batch)
        loss = objective.d_loss(critic(x), critic(y))
        penalty = constraint.penalty(critic, x, y)
        if penalty is not None:
            loss = loss + penalty
        opt.zero_grad()
        loss.backward()
        opt.step()
        constraint.after_d_step(critic)
    return critic.eval()


class Segment(nn.Module):
    """The WGAN paper's fixed generator: z (B, 1) -> (theta, Phi(z)), so Z ~ U[0, 1]."""

    z_dim = 1

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = theta

    def forward(self, z):
        return torch.cat([torch.full_like(z, self.theta), torch.special.ndtr(z)], 1)


@functools.cache
def gp_critic(theta: float, gp_lambda: float, steps: int = 1000) -> nn.Module:
    """The WGAN-GP critic of real (0, Z) against fake (theta, Z), trained once: several
    tests read the same critic (make test runs a module's tests on one worker)."""
    constraint = GradientPenalty(gp_lambda)
    return train_critic(Wasserstein(), constraint, lines(0.0), lines(theta), steps, lr=3e-3)


def evaluate(G, critic, objective, heldout, names=("heldout", "exact_w1")) -> dict:
    """The registered metrics `names` of generator G against held-out points, as one
    evaluation of gan-train computes them."""
    rng = torch.Generator().manual_seed(1)
    with torch.no_grad():
        fake = G(torch.randn(len(heldout), G.z_dim, generator=rng))
    data = SimpleNamespace(heldout=heldout, kind="points", modes=None)
    ev = Evaluation(G, critic, objective, data, fake, rng, settings=None, seed=0)
    return {k: v for name in names for k, v in REGISTRY[name].compute(ev).items()}


def lines(theta: float):
    """Sampler of (theta, Z), Z ~ U[0, 1]."""
    return lambda n: torch.stack([torch.full((n,), theta), torch.rand(n)], 1)


@pytest.mark.parametrize(
    ("theta", "gp_lambda"),
    [  # make test takes one pair; the slow tests the whole grid
        pytest.param(t, lam, marks=() if i == j == 1 else pytest.mark.slow)
        for i, t in enumerate([0.5, 1.0, 2.0])
        for j, lam in enumerate([1.0, 10.0, 100.0])
    ],
)
def test_wgan_gp_critic_on_parallel_lines(theta, gp_lambda):
    """Real (0, Z) against fake (theta, Z), Z ~ U[0, 1]: the true W1 is |theta|.

    The penalized critic objective is E_real f - E_fake f - lambda E(||grad f(x_hat)|| - 1)^2,
    with x_hat = eps x + (1 - eps) x_tilde. Pairing x = (0, Z) with x_tilde = (theta, Z'),
    x_hat's first coordinate (1 - eps) theta is uniform on the strip between the lines,
    so every x_hat lies in the strip. Take f linear across the strip with slope s
    (anything that varies along the lines only adds to the gradient norm, and only f on
    the two lines enters the first term): the objective is s |theta| - lambda (s - 1)^2,
    maximal at s = 1 + |theta| / (2 lambda). There
        E_real f - E_fake f = s |theta| = |theta| + theta^2 / (2 lambda),
    which tends to W1 = |theta| as lambda grows.
    """
    objective = Wasserstein()
    heldout = lines(0.0)(2000)  # exact W1 of 2000 points: 1/6 of the time of 4000
    metrics = evaluate(Segment(theta), gp_critic(theta, gp_lambda), objective, heldout)
    expected = abs(theta) + theta**2 / (2 * gp_lambda)
    assert metrics["wasserstein/heldout"] == pytest.approx(expected, rel=0.05)
    assert metrics["wasserstein/exact"] == pytest.approx(abs(theta), abs=0.03)  # OT agrees


@pytest.mark.parametrize("theta", [0.0, 0.5, 1.0, 2.0])
def test_vanilla_discriminator_separates_parallel_lines_whatever_theta(theta):
    """JS(P, Q) = log 2 for every theta != 0, so the optimal D loss log 4 - 2 JS is 0:
    the discriminator separates the lines perfectly and its loss gives no sense of how
    far apart they are (the WGAN paper's point). At theta = 0, P = Q: the loss stays log 4."""
    objective = Minimax()
    critic = train_critic(objective, Constraint(), lines(0.0), lines(theta), steps=600)
    with torch.no_grad():
        real_out, fake_out = critic(lines(0.0)(4000)), critic(lines(theta)(4000))
        loss = objective.d_loss(real_out, fake_out).item()
    if theta == 0:
        assert loss == pytest.approx(math.log(4), abs=0.02)
    else:
        assert loss < 0.05
        assert (real_out > 0).all() and (fake_out < 0).all()


def f_divergence_by_quadrature(name: str) -> float:
    """D_f(P || Q) = integral of q f(p / q), P = N(0, 1), Q = N(1, 1), numerically."""
    f = {
        "kl": lambda u: u * math.log(u),
        "reverse_kl": lambda u: -math.log(u),
        "pearson": lambda u: (u - 1) ** 2,
        "neyman": lambda u: (1 - u) ** 2 / u,
        "squared_hellinger": lambda u: (math.sqrt(u) - 1) ** 2,
        "jensen_shannon": lambda u: -(u + 1) * math.log((1 + u) / 2) + u * math.log(u),
        "gan": lambda u: u * math.log(u) - (u + 1) * math.log(u + 1),
        "total_variation": lambda u: 0.5 * abs(u - 1),
    }[name]
    p, q = scipy.stats.norm(0, 1).pdf, scipy.stats.norm(1, 1).pdf
    return scipy.integrate.quad(lambda x: q(x) * f(p(x) / q(x)), -15, 16, limit=200)[0]


# closed forms for P = N(0, 1), Q = N(1, 1)
CLOSED_FORM = {
    "kl": 0.5,
    "reverse_kl": 0.5,
    "pearson": math.e - 1,  # E_Q[(p/q)^2] - 1 = e^(mu^2) - 1
    "squared_hellinger": 2 * (1 - math.exp(-1 / 8)),  # the paper's f = (sqrt(u) - 1)^2
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORM))
def test_closed_forms_agree_with_quadrature(name):
    assert f_divergence_by_quadrature(name) == pytest.approx(CLOSED_FORM[name], rel=1e-6)


@pytest.mark.parametrize(
    "name",  # make test trains one of the critics; the slow tests every divergence's
    [
        pytest.param(n, marks=() if n == "jensen_shannon" else pytest.mark.slow)
        for n in sorted(DIVERGENCES)
    ],
)
def test_fgan_critic_estimate_reaches_the_divergence(name):
    """The critic's E_P[T] - E_Q[f*(T)] is a lower bound of D_f(P || Q), tight at the
    optimal T = f'(p/q); a trained critic gets within 10% and never above it by more
    than sampling noise."""
    true = CLOSED_FORM.get(name) or f_divergence_by_quadrature(name)
    objective = FDivergence(name)

    def normal(mean):
        return lambda n: torch.randn(n, 1) + mean

    critic = train_critic(
        objective, Constraint(), normal(0.0), normal(1.0), steps=2000, batch=1024, dim=1
    )
    with torch.no_grad():
        torch.manual_seed(123)
        real_out, fake_out = critic(normal(0.0)(200_000)), critic(normal(1.0)(200_000))
        estimate = objective.estimate(real_out, fake_out).item()
        t, conj = objective.activation(real_out), objective.conjugate(fake_out)
        noise = 3 * math.sqrt(t.var().item() / len(t) + conj.var().item() / len(conj))
    assert estimate == pytest.approx(true, rel=0.10)
    assert estimate <= true + noise


@pytest.mark.parametrize("name", sorted(DIVERGENCES))
def test_fgan_activation_and_conjugate_match_the_papers_table(name):
    """g_f and f*(g_f(v)) in their stable forms against the paper's formulas, literally."""
    v = torch.linspace(-3, 3, 61, dtype=torch.float64)
    g, conj = DIVERGENCES[name]
    paper_g, paper_conj = {
        "kl": (lambda v: v, lambda t: torch.exp(t - 1)),
        "reverse_kl": (lambda v: -torch.exp(-v), lambda t: -1 - torch.log(-t)),
        "pearson": (lambda v: v, lambda t: t**2 / 4 + t),
        "neyman": (lambda v: 1 - torch.exp(-v), lambda t: 2 - 2 * torch.sqrt(1 - t)),
        "squared_hellinger": (lambda v: 1 - torch.exp(-v), lambda t: t / (1 - t)),
        "jensen_shannon": (
            lambda v: math.log(2) - torch.log(1 + torch.exp(-v)),
            lambda t: -torch.log(2 - torch.exp(t)),
        ),
        "gan": (lambda v: -torch.log(1 + torch.exp(-v)), lambda t: -torch.log(1 - torch.exp(t))),
        "total_variation": (lambda v: 0.5 * torch.tanh(v), lambda t: t),
    }[name]
    assert torch.allclose(g(v), paper_g(v))
    assert torch.allclose(conj(v), paper_conj(paper_g(v)))


@pytest.mark.parametrize(
    "name", ["reverse_kl", "neyman", "squared_hellinger", "jensen_shannon", "gan"]
)
def test_fgan_stable_forms_stay_finite_where_the_naive_ones_do_not(name):
    v = torch.tensor([-80.0, -30.0, 0.0, 30.0, 80.0])
    g, conj = DIVERGENCES[name]
    assert torch.isfinite(g(v)).all() and torch.isfinite(conj(v)[:-1]).all()


def test_spectral_norm_makes_every_layer_1_lipschitz():
    torch.manual_seed(0)
    critic = nn.Sequential(
        nn.Conv2d(3, 16, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(16, 32, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 1),
    )
    with torch.no_grad():  # weights far from unit spectral norm
        for p in critic.parameters():
            p.mul_(5)
    SpectralNorm().prepare(critic)
    # spectral_norm runs 15 power iterations when it wraps a layer, then one per training
    # forward; random matrices have close top singular values, so this takes a few dozen.
    for _ in range(50):
        critic(torch.randn(8, 3, 16, 16))
    layers = [m for m in critic.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(layers) == 4
    for layer in layers:
        assert hasattr(layer, "parametrizations")  # torch.nn.utils.parametrizations.spectral_norm
        weight = layer.weight.detach()
        sigma = torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2)
        assert sigma.item() == pytest.approx(1.0, rel=0.02)


def test_saturating_generator_gradient_vanishes_where_non_saturating_does_not():
    # D(G(z)) = sigmoid(-10) ~ 4.5e-5: the discriminator confidently rejects the fakes.
    logits = torch.full((16,), -10.0, requires_grad=True)
    (sat,) = torch.autograd.grad(Minimax(saturating=True).g_loss(logits), logits)
    (nonsat,) = torch.autograd.grad(Minimax(saturating=False).g_loss(logits), logits)
    # per-sample gradients (times the batch size of the mean): -sigmoid(l) and -(1 - sigmoid(l))
    assert (sat.abs() * 16 < 1e-4).all()
    assert (nonsat.abs() * 16 > 0.99).all()


# --- the normalized estimate: one scale for every critic -----------------------------------

NORMALIZED = ("heldout", "normalized")


@pytest.mark.parametrize(  # make test: the two ends; the slow tests the values between
    "gp_lambda", [0.1, *(pytest.param(v, marks=pytest.mark.slow) for v in (1.0, 10.0)), 100.0]
)
def test_normalized_estimate_of_a_wgan_gp_critic_is_w1_whatever_lambda(gp_lambda):
    """The raw estimate is |theta| + theta^2 / (2 lambda) (above): 6 at lambda 0.1 for
    theta = 1. Divided by the critic's largest gradient norm it is |theta| for each."""
    theta = 1.0
    objective = Wasserstein()
    critic = gp_critic(theta, gp_lambda)  # at lambda 1, 10, 100 the one tested above
    m = evaluate(Segment(theta), critic, objective, lines(0.0)(4000), names=NORMALIZED)
    assert m["wasserstein/heldout"] == pytest.approx(theta + theta**2 / (2 * gp_lambda), rel=0.05)
    assert m["wasserstein/normalized"] == pytest.approx(theta, rel=0.05)
    assert m["critic/lipschitz"] == pytest.approx(1 + theta / (2 * gp_lambda), rel=0.1)


@pytest.mark.parametrize(
    "theta",
    [pytest.param(0.5, marks=pytest.mark.slow), 1.0, pytest.param(2.0, marks=pytest.mark.slow)],
)
def test_normalized_estimate_of_a_weight_clipped_critic(theta):
    """Clipping at c = 0.01 leaves a critic of slope K ~ 1e-3: its raw estimate is K W1,
    its normalized one W1. At theta = 2 the clipped MLP saturates across the strip, and
    the normalized estimate stays what it must be, a lower bound (1.78 here)."""
    objective = Wasserstein()
    critic = train_critic(objective, WeightClipping(0.01), lines(0.0), lines(theta), 1500, 1e-3)
    m = evaluate(Segment(theta), critic, objective, lines(0.0)(4000), names=NORMALIZED)
    assert m["wasserstein/heldout"] < 0.01 * theta
    if theta <= 1:
        assert m["wasserstein/normalized"] == pytest.approx(theta, rel=0.05)
    else:
        assert 0.85 * theta < m["wasserstein/normalized"] <= theta * 1.01


@pytest.mark.parametrize(
    ("objective", "theta"),  # make test: each objective once; the slow tests the grid
    [
        pytest.param(Wasserstein(), 2.0, id="wasserstein-2.0"),
        pytest.param(Hinge(), 0.5, id="hinge-0.5"),
        pytest.param(Wasserstein(), 0.5, id="wasserstein-0.5", marks=pytest.mark.slow),
        pytest.param(Hinge(), 2.0, id="hinge-2.0", marks=pytest.mark.slow),
    ],
)
def test_normalized_estimate_of_a_spectral_norm_critic(objective, theta):
    critic = train_critic(objective, SpectralNorm(), lines(0.0), lines(theta), 1500, 2e-3)
    m = evaluate(Segment(theta), critic, objective, lines(0.0)(4000), names=NORMALIZED)
    assert m["critic/lipschitz"] <= 1.01  # spectral norm: every layer at most 1-Lipschitz
    assert m["wasserstein/normalized"] == pytest.approx(theta, rel=0.05)


@pytest.mark.parametrize("scale", [1e-3, 0.5, 7.0])
def test_a_critic_scaled_by_a_constant_gives_the_same_normalized_estimate(scale):
    objective = Wasserstein()
    critic = gp_critic(1.0, 1.0, steps=300)
    heldout = lines(0.0)(2000)
    base = evaluate(Segment(1.0), critic, objective, heldout, names=NORMALIZED)
    scaled = evaluate(Segment(1.0), lambda x: scale * critic(x), objective, heldout, NORMALIZED)
    assert scaled["wasserstein/heldout"] == pytest.approx(scale * base["wasserstein/heldout"])
    assert scaled["critic/lipschitz"] == pytest.approx(scale * base["critic/lipschitz"])
    assert scaled["wasserstein/normalized"] == pytest.approx(base["wasserstein/normalized"])
