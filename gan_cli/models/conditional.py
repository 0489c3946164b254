"""Class conditioning of the architectures (model.conditional): what a class label
changes in the generator and in the discriminator.

- generator: conditional batch norm (de Vries et al. 2017; Miyato & Koyama 2018) in the
  conv models: batch norm without its own affine map, then a class-dependent gain and
  bias, each a linear map of a class embedding shared by all layers (BigGAN, Brock et
  al. 2019), so a class differs from the others from the first step instead of only
  after each layer's own per-class parameters have moved; the MLP concatenates the
  class embedding to z;
- discriminator `projection` (Miyato & Koyama 2018, eq. 3): the unconditional output
  psi(phi(x)) plus <embed(y), phi(x)>, phi the features before the last layer;
- discriminator `acgan` (Odena et al. 2017): an auxiliary head that classifies phi(x);
  its cross-entropy is added to both networks' losses (gan_cli.training.conditioning).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from gan_cli.core.params import Annotated, OneOf

KINDS = ("none", "projection", "acgan")
CONDITIONAL = Annotated[str, OneOf(KINDS)]


def generate(G: Callable, z: Tensor, y: Tensor | None) -> Tensor:
    """G(z), or G(z, y) for a conditional generator."""
    return G(z) if y is None else G(z, y)


def draw(G, n: int, rng: torch.Generator, device, classes=None) -> Tensor:
    """n samples of G from latents (and, for a conditional G, labels drawn from the
    class frequencies of `classes`, gan_cli.training.conditioning.Classes) drawn with
    `rng`."""
    z = torch.randn(n, G.z_dim, generator=rng, device=device)
    return generate(G, z, None if classes is None else classes.draw(n, device, rng))


EMBED_DIM = 128  # the generator's class embedding (BigGAN's shared embedding size)


class ConditionalBatchNorm2d(nn.Module):
    """(B, C, H, W) and class embeddings e (B, E) -> (1 + gain(e)) * BN(x) + bias(e), per
    channel, gain and bias linear maps; with both maps zero, plain batch norm.

    The maps start small (weights N(0, 0.02^2), zero biases): with e ~ N(0, 1) a class
    moves a gain by about 0.2 at first, so no class starts with its features switched
    off (as a default-initialised map, about 0.6, can do, leaving that class black)."""

    def __init__(self, channels: int, embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(embed_dim, channels)
        self.bias = nn.Linear(embed_dim, channels)
        for linear in (self.gain, self.bias):
            nn.init.normal_(linear.weight, std=0.02)
            nn.init.zeros_(linear.bias)

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        gain, bias = 1 + self.gain(e), self.bias(e)
        return gain[:, :, None, None] * self.norm(x) + bias[:, :, None, None]


def batch_norm(channels: int, n_classes: int) -> nn.Module:
    """The generator's batch norm: conditional on the class with n_classes > 0."""
    return ConditionalBatchNorm2d(channels) if n_classes else nn.BatchNorm2d(channels)


def class_embedding(n_classes: int, dim: int = EMBED_DIM) -> nn.Embedding | None:
    """A generator's class embedding (n_classes, dim), N(0, 1); None when unconditional."""
    return nn.Embedding(n_classes, dim) if n_classes else None


def embed(embedding: nn.Embedding | None, y: Tensor | None) -> Tensor | None:
    """The class embeddings (B, E) of labels y (B,), which a conditional generator needs;
    None for an unconditional one."""
    if embedding is None:
        return None
    if y is None:
        raise ValueError("a class-conditional generator needs the labels y")
    return embedding(y)


def run_layers(layers: nn.Sequential, x: Tensor, e: Tensor | None) -> Tensor:
    """x through `layers` in order, the class embeddings e to the conditional batch norms."""
    for layer in layers:
        x = layer(x, e) if isinstance(layer, ConditionalBatchNorm2d) else layer(x)
    return x


class ClassHead(nn.Module):
    """The discriminator's class-dependent part, on its features phi(x) (B, F):
    `projection` gives <embed(y), phi(x)> (B,) to add to the output, `acgan` the class
    logits (B, K); `none` is no head at all (`head` builds one only when conditional)."""

    def __init__(self, kind: str, features: int, n_classes: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "projection":
            self.embed = nn.Embedding(n_classes, features)
            nn.init.normal_(self.embed.weight, std=features**-0.5)
        else:  # acgan
            self.classify = nn.Linear(features, n_classes)

    def forward(self, out: Tensor, h: Tensor, y: Tensor | None, logits: bool) -> Tensor | tuple:
        """From the unconditional output `out` (B,) and the features h (B, F): with the
        projection, out + <embed(y), h>; with the auxiliary classifier, `out`, or with
        `logits` (out, class logits (B, K))."""
        if self.kind == "projection":
            if y is None:
                raise ValueError("a projection discriminator needs the labels y")
            return out + (self.embed(y) * h).sum(dim=1)
        return (out, self.classify(h)) if logits else out


def head(kind: str, features: int, n_classes: int) -> ClassHead | None:
    """The discriminator's class head for model.conditional, or None (unconditional)."""
    if kind == "none" or not n_classes:
        return None
    return ClassHead(kind, features, n_classes)


def conditioned(
    out: Tensor, h: Tensor, y: Tensor | None, class_head: ClassHead | None, logits: bool
) -> Tensor | tuple[Tensor, Tensor]:
    """A discriminator's return value from its unconditional output (B,) and features
    (B, F): the output (B,), or (output, class logits) when `logits` are asked of an
    auxiliary-classifier discriminator."""
    if class_head is None:
        if logits:
            raise ValueError("only an acgan discriminator gives class logits")
        return out
    return class_head(out, h, y, logits)
