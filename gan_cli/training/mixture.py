"""AdaGAN's pieces (Tolstikhin et al. 2017, "AdaGAN: Boosting Generative Models"): the
mixture of generators, its mixture weights, and the reweighting of the training set
towards what the mixture misses.

After round t the mixture is G_t = (1 - beta_t) G_{t-1} + beta_t G_t^c, with beta_t = 1/t
by default (the authors' code, tolstikhin/adagan, adagan.py) or a constant. Before round
t >= 2 a classifier D tells the training examples from the mixture's samples; with
D(x_i) the probability that x_i is real, h_i = (1 - D(x_i)) / D(x_i) estimates
dP_mixture / dP_data at x_i, and example i is weighted

    w_i = (lambda* - (1 - beta) h_i)_+ / (N beta),

lambda* the one value that makes the weights sum to 1 (the paper's Theorem 1, the code's
"theory_star" rule): the examples the mixture covers least (small h) weigh most.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def mixture_beta(round_: int, beta: float | None) -> float:
    """The weight of round `round_`'s component (1-based): 1 for the first, else `beta`,
    or 1 / round_ when beta is None."""
    if round_ == 1:
        return 1.0
    return 1.0 / round_ if beta is None else beta


def add_component(weights: list[float], beta: float) -> list[float]:
    """The mixture's weights after a component of weight beta joins: (1 - beta) w, beta."""
    return [w * (1 - beta) for w in weights] + [beta] if weights else [1.0]


def theory_star(h: Tensor, beta: float) -> Tensor:
    """AdaGAN's example weights (N,) from the density ratios h (N,) >= 0 and the next
    component's weight beta in (0, 1]: w_i = (lambda - (1 - beta) h_i)_+ / (N beta), lambda
    such that sum w = 1 (found on the sorted h: the largest k for which the k smallest
    ratios all keep a positive weight)."""
    h = h.double()
    n = len(h)
    scaled = (1 - beta) * h.sort().values
    k = torch.arange(1, n + 1, dtype=h.dtype)
    lambdas = (n * beta + scaled.cumsum(0)) / k  # lambda if the k smallest ratios are kept
    kept = int((lambdas > scaled).nonzero().max())  # lambdas[k] > scaled[k] holds for a prefix
    weights = (lambdas[kept] - (1 - beta) * h).clamp(min=0) / (n * beta)
    return weights / weights.sum()


class Mixture(nn.Module):
    """A mixture of generators: each sample comes from component i with probability
    weights[i] (drawn with the mixture's own seeded stream, so the same calls give the
    same samples). z (B, z_dim) -> x (B, *shape)."""

    def __init__(self, components: list[nn.Module], weights: list[float], seed: int = 0) -> None:
        super().__init__()
        self.components = nn.ModuleList(components)
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float64))
        self.z_dim = components[0].z_dim
        self.rng = torch.Generator().manual_seed(seed)

    def choose(self, n: int) -> Tensor:
        """The component (n,) of each of n samples."""
        return torch.multinomial(
            self.weights.cpu().float(), n, replacement=True, generator=self.rng
        )

    def forward(self, z: Tensor) -> Tensor:
        which = self.choose(len(z)).to(z.device)
        parts = [G(z[which == i]) for i, G in enumerate(self.components)]
        out = torch.empty(len(z), *parts[0].shape[1:], dtype=parts[0].dtype, device=z.device)
        for i, part in enumerate(parts):
            out[which == i] = part
        return out


def density_ratios(
    examples: Tensor, draw: callable, classifier: nn.Module, steps: int, batch: int, seed: int
) -> Tensor:
    """h_i = (1 - D(x_i)) / D(x_i) = exp(-logit_i) for each training example (N, ...):
    `classifier` (raw logits (B,)) is trained `steps` steps (Adam, 1e-3) to tell batches
    of examples (label 1) from the mixture's samples `draw(batch)` (label 0)."""
    gen = torch.Generator(device=examples.device).manual_seed(seed)
    opt = torch.optim.Adam(classifier.parameters(), lr=1e-3, betas=(0.5, 0.999))
    classifier.train()
    for _ in range(steps):
        idx = torch.randint(len(examples), (batch,), generator=gen, device=examples.device)
        real, fake = examples[idx], draw(batch).detach()
        logits = classifier(torch.cat([real, fake]))
        labels = torch.cat([torch.ones(batch), torch.zeros(batch)]).to(logits.device)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    classifier.eval()
    with torch.no_grad():
        logits = torch.cat([classifier(part) for part in examples.split(1000)])
    return torch.exp(-logits.double()).clamp(max=1e6)  # (1 - sigmoid(l)) / sigmoid(l)
