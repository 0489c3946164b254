"""GAN objectives: pure math on raw discriminator outputs (see base.Objective)."""

from gan_cli.losses.base import Objective

__all__ = ["Objective"]
