"""How well a GAN on pairs (loss=ali|veegan) learnt its reconstructor F: x -> z.

- `recon/latent`: E ||z - F(G(z))||_2^2 on fresh latents z ~ N(0, I): does F invert G
  (VEEGAN's reconstruction term, on samples it never trained on);
- `recon/data`: how Gaussian the codes F(x) of held-out real data are: the Frechet
  distance between N(mu, Sigma), their mean and covariance, and the prior N(0, I):
  ||mu||^2 + tr(Sigma) + d - 2 tr(Sigma^(1/2)); 0 when the codes have the prior's first
  two moments.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gan_cli.data.base import KINDS
from gan_cli.losses.joint import RECONSTRUCTOR, latent_error
from gan_cli.metrics.base import Evaluation, chunked, register


def frechet_to_standard_normal(codes: Tensor) -> float:
    """The Frechet distance between N(mean, covariance) of codes (N, d) and N(0, I)."""
    x = codes.double()
    mu = x.mean(dim=0)
    sigma = torch.atleast_2d(torch.cov(x.T))
    root_trace = torch.linalg.eigvalsh(sigma).clamp(min=0).sqrt().sum()  # tr(Sigma^(1/2))
    return float(mu @ mu + sigma.trace() + len(mu) - 2 * root_trace)


@register(
    "recon",
    keys=("recon/latent", "recon/data"),
    kinds=KINDS,
    fits=lambda data, objective: RECONSTRUCTOR in objective.networks,
    live=("recon/latent",),
)
def recon(ev: Evaluation) -> dict[str, float]:
    F, heldout = ev.reconstructor, ev.data.heldout
    z = torch.randn(len(heldout), ev.generator.z_dim, generator=ev.rng, device=heldout.device)
    latent = latent_error(z, chunked(F, chunked(ev.generator, z)))
    return {
        "recon/latent": latent.item(),
        "recon/data": frechet_to_standard_normal(chunked(F, heldout)),
    }
