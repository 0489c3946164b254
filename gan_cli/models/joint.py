"""The networks of the GANs that learn an inverse map (loss=ali, loss=veegan): a
reconstructor F: x -> z and a discriminator on pairs D(x, z).

- ALI / BiGAN (Dumoulin et al. 2017; Donahue et al. 2017): the discriminator tells
  (x, F(x)) from (G(z), z);
- VEEGAN (Srivastava et al. 2017): the same pairs, and F also learns to invert G.

The pair critic reads x with the critic family the config chose (model.discriminator):
a critic that flattens its input (mlp) reads the concatenated pair, as in ALI's toy
critic (concat(x, z) -> hidden layers -> linear); a convolutional one (dcgan, resnet)
reads x alone, and its features phi(x) meet an embedding of z in a joint head, as in
BiGAN's and ALI's image discriminators.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gan_cli.core.params import COUNT, Annotated
from gan_cli.models.common import WIDTH, image_side
from gan_cli.models.dcgan import SIDES
from gan_cli.models.dcgan import Discriminator as ConvEncoder
from gan_cli.models.mlp import _mlp

JOINT_WIDTH = 512  # of the z embedding and of the joint head (BiGAN's 512 and 1024 halved)


class JointCritic(nn.Module):
    """(x (B, *shape), z (B, z_dim)) -> raw output (B,).

    `x_critic` is the family's critic: built for inputs of x_dim + z_dim features when
    `at_input` (it reads torch.cat([x.flatten(1), z])), else for x alone, with a
    `features(x) -> (B, n_features)` method."""

    def __init__(self, x_critic: nn.Module, z_dim: int, at_input: bool) -> None:
        super().__init__()
        self.x_critic, self.at_input = x_critic, at_input
        if at_input:
            return
        act = nn.LeakyReLU(0.2)
        self.z_path = nn.Sequential(
            nn.Linear(z_dim, JOINT_WIDTH), act, nn.Linear(JOINT_WIDTH, JOINT_WIDTH), act
        )
        self.joint = nn.Sequential(
            nn.Linear(x_critic.n_features + JOINT_WIDTH, JOINT_WIDTH),
            act,
            nn.Linear(JOINT_WIDTH, 1),
        )

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        if self.at_input:
            return self.x_critic(torch.cat([x.flatten(1), z.to(x.dtype)], dim=1))
        h = torch.cat([self.x_critic.features(x), self.z_path(z)], dim=1)
        return self.joint(h).squeeze(1)


class Reconstructor(nn.Module):
    """x (B, *in_shape) -> z (B, z_dim): VEEGAN's reconstructor, ALI's encoder.

    Points (and images of another size): an MLP of `n_layers` hidden layers
    `hidden_dim` wide (ReLU). Square images of 32 to 256 pixels: DCGAN's discriminator
    (strided convolutions, batch norm, LeakyReLU(0.2)), `channels` wide at its first
    layer, whose last 4x4 convolution gives z_dim outputs instead of one.
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        z_dim: WIDTH = 2,
        hidden_dim: WIDTH = 256,
        n_layers: Annotated[int, COUNT] = 3,
        channels: WIDTH = 64,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        if image_side(tuple(in_shape), SIDES) is None:
            self.net = _mlp(math.prod(in_shape), z_dim, hidden_dim, n_layers, "none", "relu")
            self.conv = False
        else:
            encoder = ConvEncoder(in_shape, d_channels=channels)
            last = encoder.net[-1]
            encoder.net[-1] = nn.Conv2d(last.in_channels, z_dim, 4, 1, 0)
            self.net, self.conv = encoder.net, True

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x if self.conv else x.flatten(1)).flatten(1)
