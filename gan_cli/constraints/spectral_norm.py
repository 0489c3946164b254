"""Spectral normalization (Miyato et al. 2018)."""

from __future__ import annotations

from gan_cli.constraints.base import Constraint, register
from gan_cli.core.lazy import nn
from gan_cli.core.params import POSITIVE_INT, Annotated


@register("spectral_norm")
class SpectralNorm(Constraint):
    """Divide the weight of every linear and convolutional layer by its largest singular
    value, estimated by `n_power_iterations` of power iteration per training forward.

    With 1-Lipschitz activations (ReLU, LeakyReLU) the whole critic is then at most
    1-Lipschitz. A convolution's weight (out, in, k, k) is normalized as the matrix
    (out, in * k * k), as in the paper.
    """

    replaces_batch_norm = "none"  # SN-GAN's critics: spectral norm is their normalization

    def __init__(self, n_power_iterations: Annotated[int, POSITIVE_INT] = 1) -> None:
        """Args:
        n_power_iterations: power iterations per forward pass of each normalized layer
        """
        self.n_power_iterations = n_power_iterations

    def prepare(self, critic: nn.Module) -> nn.Module:
        # with a projection discriminator, its class embedding too (Miyato & Koyama 2018)
        layers = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding)
        for layer in [m for m in critic.modules() if isinstance(m, layers)]:
            nn.utils.parametrizations.spectral_norm(
                layer, n_power_iterations=self.n_power_iterations
            )
        return critic
