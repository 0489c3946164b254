"""The objectives and the gradient penalty against their formulas."""

import math

import pytest
import torch
from torch import nn

from gan_cli.constraints.gradient_penalty import GradientPenalty
from gan_cli.core.errors import UserError
from gan_cli.losses.hinge import Hinge
from gan_cli.losses.minimax import Minimax
from gan_cli.losses.wasserstein import Wasserstein


def test_minimax_matches_the_formula_on_moderate_logits():
    real, fake = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([-0.5, 0.7])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    assert Minimax().d_loss(real, fake).item() == pytest.approx(expected_d.item(), rel=1e-6)
    ns = -torch.log(d_fake).mean()  # non-saturating: G maximizes log D(G(z))
    sat = torch.log(1 - d_fake).mean()  # minimax: G minimizes log(1 - D(G(z)))
    assert Minimax(saturating=False).g_loss(fake).item() == pytest.approx(ns.item(), rel=1e-6)
    assert Minimax(saturating=True).g_loss(fake).item() == pytest.approx(sat.item(), rel=1e-6)


def test_minimax_is_finite_on_extreme_logits():
    logits = torch.tensor([-200.0, 200.0], requires_grad=True)
    for loss in (Minimax().d_loss(logits, logits), Minimax().g_loss(logits)):
        assert torch.isfinite(loss)
        (grad,) = torch.autograd.grad(loss, logits)
        assert torch.isfinite(grad).all()


def test_optimal_discriminator_value_is_minus_log4():
    # D = 1/2 everywhere (logit 0): the D loss is log 4, i.e. the value V(D, G) = -log 4.
    zeros = torch.zeros(8)
    assert Minimax().d_loss(zeros, zeros).item() == pytest.approx(math.log(4))


def test_wasserstein_losses_and_estimate():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.0, 1.0])
    w = Wasserstein()
    assert w.estimate(real, fake).item() == pytest.approx(2.0)  # E_real f - E_fake f
    assert w.d_loss(real, fake).item() == pytest.approx(-2.0)
    assert w.g_loss(fake).item() == pytest.approx(0.0)


def test_hinge_losses_and_estimate():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.5])
    h = Hinge()
    # D: E_P max(0, 1 - f) + E_Q max(0, 1 + f) = (0 + 0.5 + 2) / 3 + (0 + 1 + 2.5) / 3
    assert h.d_loss(real, fake).item() == pytest.approx(2.5 / 3 + 3.5 / 3)
    # G: -E_Q f = -(-2 + 0 + 1.5) / 3 > 0 here, so a flipped sign cannot pass
    assert h.g_loss(fake).item() == pytest.approx(0.5 / 3)
    assert h.estimate(real, fake).item() == pytest.approx(1.5 / 3 - (-0.5 / 3))
    # the generator's gradient pushes every fake up where the critic is high
    fake.requires_grad_(True)
    (grad,) = torch.autograd.grad(h.g_loss(fake), fake)
    assert torch.allclose(grad, torch.full((3,), -1 / 3))


def test_gradient_penalty_is_zero_for_a_unit_gradient_linear_critic():
    critic = nn.Linear(3, 1, bias=True)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.0, 0.8]]))  # ||grad|| = 1 everywhere
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    assert GradientPenalty(10.0).penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_value_and_gradient_reach_the_critic():
    critic = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))  # ||grad|| = 5: penalty lambda * 16
    penalty = GradientPenalty(0.5).penalty(critic, torch.randn(8, 2), torch.randn(8, 2))
    assert penalty.item() == pytest.approx(0.5 * 16)
    penalty.backward()
    # d/dw lambda (||w|| - 1)^2 = 2 lambda (||w|| - 1) w / ||w||
    assert torch.allclose(
        critic.weight.grad, torch.tensor([[2 * 0.5 * 4 * 3 / 5, 2 * 0.5 * 4 * 4 / 5]])
    )


def test_gradient_penalty_draws_one_eps_per_sample():
    # The critic f(x) = ||x - c||^2 / 2 has gradient x - c; with real = c + 1 and fake = c,
    # x_hat - c = eps, so each sample's gradient norm reveals its own eps.
    seen = {}

    def critic(x):
        seen["x_hat"] = x.detach().clone()
        return 0.5 * (x**2).sum(dim=(1, 2, 3))

    real, fake = torch.ones(64, 1, 2, 2), torch.zeros(64, 1, 2, 2)
    GradientPenalty().penalty(critic, real, fake)
    eps = seen["x_hat"].flatten(1)
    assert torch.allclose(eps, eps[:, :1].expand_as(eps))  # one eps within a sample
    assert eps[:, 0].unique().numel() == 64  # a different eps for each sample
    assert 0 <= eps.min() and eps.max() <= 1


def test_gradient_penalty_refuses_batch_norm_in_the_critic():
    critic = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    with pytest.raises(UserError, match="batch norm"):
        GradientPenalty().prepare(critic)
