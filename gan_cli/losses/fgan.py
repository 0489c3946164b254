"""f-GAN (Nowozin et al. 2016): variational divergence minimization.

For an f-divergence D_f(P || Q) = E_Q[f(p/q)], any critic T gives the lower bound
D_f(P || Q) >= E_P[T(x)] - E_Q[f*(T(x))], f* the Fenchel conjugate of f. The critic
outputs a raw value v and T = g_f(v), the output activation that keeps T in dom f*.
Here P is the data and Q the generator.

Each divergence (the f-GAN paper, Table 2 and Table 6) is written as the pair
(g_f(v), f*(g_f(v))), both as functions of v, simplified so that neither overflows nor
takes the log of a non-positive number:

| divergence        | f(u)                              | g_f(v)              | f*(t)             |
|-------------------|-----------------------------------|---------------------|-------------------|
| kl                | u log u                           | v                   | exp(t - 1)        |
| reverse_kl        | -log u                            | -exp(-v)            | -1 - log(-t)      |
| pearson           | (u - 1)^2                         | v                   | t^2 / 4 + t       |
| neyman            | (1 - u)^2 / u                     | 1 - exp(-v)         | 2 - 2 sqrt(1 - t) |
| squared_hellinger | (sqrt(u) - 1)^2                   | 1 - exp(-v)         | t / (1 - t)       |
| jensen_shannon    | -(u + 1) log((1 + u) / 2) + ulogu | log 2 - log(1+e^-v) | -log(2 - exp(t))  |
| gan               | u log u - (u + 1) log(u + 1)      | -log(1 + e^-v)      | -log(1 - exp(t))  |
| total_variation   | |u - 1| / 2                       | tanh(v) / 2         | t                 |

Squared Hellinger uses the paper's convention, without the factor 1/2:
E_Q[(sqrt(p/q) - 1)^2] = 2 (1 - Bhattacharyya coefficient), between 0 and 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from gan_cli.core.lazy import F, torch
from gan_cli.core.params import Annotated, OneOf
from gan_cli.losses.base import Objective, register

if TYPE_CHECKING:
    from torch import Tensor

    Pair = tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]

LOG2 = math.log(2.0)

# name -> (v -> g_f(v), v -> f*(g_f(v)))
DIVERGENCES: dict[str, Pair] = {
    "kl": (lambda v: v, lambda v: torch.exp(v - 1)),
    "reverse_kl": (lambda v: -torch.exp(-v), lambda v: v - 1),  # -1 - log(exp(-v))
    "pearson": (lambda v: v, lambda v: 0.25 * v**2 + v),
    "neyman": (lambda v: -torch.expm1(-v), lambda v: 2 - 2 * torch.exp(-0.5 * v)),
    # t / (1 - t) with t = 1 - e^-v:  (1 - e^-v) e^v = e^v - 1
    "squared_hellinger": (lambda v: -torch.expm1(-v), lambda v: torch.expm1(v)),
    # -log(2 - exp(t)) with t = log 2 - softplus(-v):  softplus(v) - log 2
    "jensen_shannon": (lambda v: LOG2 - F.softplus(-v), lambda v: F.softplus(v) - LOG2),
    # -log(1 - exp(t)) with t = -softplus(-v) = log sigmoid(v):  -log sigmoid(-v) = softplus(v)
    "gan": (lambda v: -F.softplus(-v), lambda v: F.softplus(v)),
    "total_variation": (lambda v: 0.5 * torch.tanh(v), lambda v: 0.5 * torch.tanh(v)),
}


@register("fgan")
class FDivergence(Objective):
    """The critic maximizes E_P[T] - E_Q[f*(T)]; the generator maximizes E_Q[T].

    The generator's update is the paper's practical alternative (Sec. 3.2): maximize
    E_Q[g_f(V(G(z)))] rather than minimize -E_Q[f*(g_f(V(G(z))))]; for the `gan`
    divergence it is exactly the non-saturating GAN loss.
    """

    estimate_keys = ("divergence/estimate", "divergence/heldout")

    def __init__(self, divergence: Annotated[str, OneOf(DIVERGENCES)] = "jensen_shannon") -> None:
        """Args:
        divergence: the f-divergence whose variational bound the critic estimates
        """
        if divergence not in DIVERGENCES:
            raise ValueError(f"unknown divergence {divergence!r}; one of {list(DIVERGENCES)}")
        self.divergence = divergence
        self.activation, self.conjugate = DIVERGENCES[divergence]

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return -self.estimate(real_out, fake_out)

    def g_loss(self, fake_out: Tensor) -> Tensor:
        return -self.activation(fake_out).mean()

    def estimate(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return self.activation(real_out).mean() - self.conjugate(fake_out).mean()
