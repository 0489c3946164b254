"""ALI / BiGAN (Dumoulin et al. 2017, "Adversarially Learned Inference"; Donahue et
al. 2017, "Adversarial Feature Learning"): a generator G: z -> x and an encoder
F: x -> z (the reconstructor) play against a discriminator on pairs, which tells the
data's pairs (x, F(x)) from the generator's (G(z), z).

The losses are those of the authors' code (IshmaelBelghazi/ALI, ali/bricks.py), from
logits: with D = sigmoid(l),
  L_D  = mean(softplus(-l(x, F(x))) + softplus(l(G(z), z)))
  L_GF = mean(softplus(l(x, F(x))) + softplus(-l(G(z), z)))
G and F minimize L_GF together, the non-saturating form of the minimax game; all three
networks are updated at once from one forward pass. The papers' encoders are
Gaussian, x -> N(mu(x), sigma(x)^2 I); `loss.latent_noise` = s pairs x with a sample of
N(F(x), s^2 I) (0, the default: BiGAN's deterministic encoder).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gan_cli.core.lazy import F
from gan_cli.losses.base import register
from gan_cli.losses.joint import CRITIC, GENERATOR, RECONSTRUCTOR, JointBatch, JointObjective, Phase

if TYPE_CHECKING:
    from torch import Tensor


@register("ali")
class ALI(JointObjective):
    def phases(self, pairs: JointBatch) -> tuple[dict[str, Phase], dict[str, Tensor]]:
        real, fake = pairs.real_out.float(), pairs.fake_out.float()
        d_loss = (
            F.softplus(-real).mean() + F.softplus(fake).mean()
        )  # -log D(x,F(x)) - log(1-D(G(z),z))
        gf_loss = F.softplus(real).mean() + F.softplus(-fake).mean()  # the labels swapped
        return {
            "loss/d": Phase(d_loss, (CRITIC,)),
            "loss/g": Phase(gf_loss, (GENERATOR, RECONSTRUCTOR)),
        }, {}
