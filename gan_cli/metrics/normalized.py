"""A Wasserstein estimate that any critic gives, whatever keeps it in check.

E_real f - E_fake f is W1 only for a 1-Lipschitz f; a weak gradient penalty lets the
critic grow steeper, weight clipping makes it K-Lipschitz for an unknown K, spectral
norm makes it flatter than 1. Dividing by L_hat, the largest gradient norm of f over
the held-out real samples, the fresh fakes and interpolates between them, gives the
estimate of f / L_hat, which is (up to how well L_hat samples the critic's true
constant) 1-Lipschitz: so a lower bound on W1 that compares across losses, and that
does not grow when only the critic's slope does.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_cli.data.base import KINDS
from gan_cli.metrics.base import Evaluation, register
from gan_cli.models.pacgan import pack

# samples of each set (real, fake, interpolates) the critic's slope is measured on: a
# batch's worth, so that on images the gradients cost a fraction of an evaluation
LIPSCHITZ_SAMPLES = 256


def wasserstein_critic(data, objective) -> bool:
    """Objectives whose critic value estimates W1 (wasserstein, hinge)."""
    return bool(objective.estimate_keys) and objective.estimate_keys[0] == "wasserstein/critic"


@register(
    "normalized",
    keys=("wasserstein/normalized", "critic/lipschitz"),
    kinds=KINDS,
    fits=wasserstein_critic,
    live=("wasserstein/normalized",),
)
def normalized(ev: Evaluation) -> dict[str, float]:
    real_out, fake_out = ev.critic_out
    estimate = (real_out.mean() - fake_out.mean()).item()  # E_real f - E_fake f
    n = LIPSCHITZ_SAMPLES * ev.pack_size  # the critic's slope is measured on packs
    real, fake = pack(ev.data.heldout[:n], ev.pack_size), pack(ev.fake[:n], ev.pack_size)
    # the same fractions at every evaluation, from a stream of their own: the other
    # metrics draw what they drew before
    gen = torch.Generator().manual_seed(ev.seed)
    eps = torch.rand((len(real),) + (1,) * (real.dim() - 1), generator=gen).to(real.device)
    # a conditional critic's slope in the image at a fixed class; the interpolates at
    # the real sample's class, as the gradient penalty takes them
    labels = (ev.real_labels, ev.fake_labels, ev.real_labels)
    labels = [None if y is None else y[:n] for y in labels]
    inputs = (real, fake, eps * real + (1 - eps) * fake)
    lipschitz = max(max_gradient_norm(ev.critic, x, y) for x, y in zip(inputs, labels, strict=True))
    # a constant critic (slope 0) tells nothing: 0, the trivial lower bound
    normalized = estimate / lipschitz if lipschitz > 0 else 0.0
    return {"wasserstein/normalized": normalized, "critic/lipschitz": lipschitz}


def max_gradient_norm(critic: nn.Module, x: Tensor, y: Tensor | None = None, size=500) -> float:
    """max over the samples of x (N, ...) of ||grad_x f(x)||_2 (of f(x, y) at labels
    y (N,), for a conditional critic)."""
    largest = 0.0
    labels = [None] * len(x.split(size)) if y is None else y.split(size)
    with torch.enable_grad():
        for part, label in zip(x.split(size), labels, strict=True):
            part = part.detach().float().requires_grad_(True)
            out = critic(part) if label is None else critic(part, label)
            (grad,) = torch.autograd.grad(out.float().sum(), part)
            largest = max(largest, grad.flatten(1).norm(dim=1).max().item())
    return largest
