"""Augmentation of what the critic sees (`data.augment`, `data.augment_target`).

The policies are DiffAugment's (Zhao et al. 2020, "Differentiable Augmentation for
Data-Efficient GAN Training", its authors' DiffAugment_pytorch.py), on images in [-1, 1]:
- translation: a shift of up to 1/8 of the image size in each direction, zero fill;
- cutout: one square of half the image size set to 0, centred anywhere;
- color: brightness + U(-0.5, 0.5), saturation x U(0, 2) about the pixel's channel mean,
  contrast x U(0.5, 1.5) about the image's mean.
Each is differentiable in its input, so the generator's gradient passes through it, and
the critic judges real and generated batches through the same random transforms.

The probability p that a policy is applied to a sample is 1 by default (DiffAugment).
With a target (ADA, Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data", Sec. 3 and its authors' training loop), p starts at 0 and every 4 critic
updates moves by sign(r_t - target) * batch * 4 / 500,000, clamped to [0, 1], where
r_t = E[sign(D(x_real))] over those updates: a critic that grows sure of the real data
(overfitting) sees more augmentation. p lives on the training device, so adapting it
never waits for the device.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

POLICIES = ("translation", "cutout", "color")
ADA_INTERVAL = 4  # critic updates between two adjustments of p (ADA's ada_interval)
ADA_KIMG = 500  # thousands of real images for p to go from 0 to 1 (ADA's ada_kimg)


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Each image shifted by up to round(ratio * size) pixels along each axis, the
    uncovered pixels 0."""
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (b, 1, 1), device=x.device)
    tx = torch.randint(-sx, sx + 1, (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - ty  # the source pixel of each
    cols = torch.arange(w, device=x.device).view(1, 1, w) - tx
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
    index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(b, 1, h * w)
    moved = x.flatten(2).gather(2, index.expand(-1, x.shape[1], -1)).view_as(x)
    return moved * inside


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Each image with one square of round(ratio * size) pixels a side set to 0; its
    centre is uniform over the image, so part of the square may fall outside."""
    b, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - size_y % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - size_x % 2), (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - (cy - size_y // 2)
    cols = torch.arange(w, device=x.device).view(1, 1, w) - (cx - size_x // 2)
    hole = (rows >= 0) & (rows < size_y) & (cols >= 0) & (cols < size_x)
    return x * ~hole.unsqueeze(1)


def color(x: Tensor) -> Tensor:
    """Brightness, saturation and contrast, each drawn per image."""
    b = len(x)

    def draw() -> Tensor:
        return torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype)

    x = x + (draw() - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (draw() * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (draw() + 0.5) + mean


TRANSFORMS: dict[str, Callable[[Tensor], Tensor]] = {
    "translation": translation,
    "cutout": cutout,
    "color": color,
}


ALLOWED = f"a comma list of {'|'.join(POLICIES)} (empty: off)"


def parse(spec: str | None) -> tuple[str, ...]:
    """`data.augment`, a comma list of POLICIES ('' or none: off), as a tuple."""
    names = tuple(n.strip() for n in str(spec or "").split(",") if n.strip())
    return () if names == ("none",) else names


def valid(spec: str | None) -> bool:
    """Whether `data.augment` names known policies, each once."""
    names = parse(spec)
    return all(n in TRANSFORMS for n in names) and len(set(names)) == len(names)


class Augment:
    """The critic's view of a batch: `policies` applied in order, each to a sample with
    probability `p` (a 0-d tensor on the training device). `target` None: p stays 1;
    a number: ADA's controller moves p by `observe`d critic outputs on real batches."""

    def __init__(
        self,
        policies: tuple[str, ...],
        target: float | None,
        batch_size: int,
        device,
        world=None,
    ) -> None:
        self.policies = policies
        self.target = target
        self.world = world  # under DDP (gan_cli.training.distributed.World): p moves as one
        self.p = torch.tensor(1.0 if target is None else 0.0, device=device)
        self.speed = batch_size * ADA_INTERVAL / (ADA_KIMG * 1000)  # p's move per adjustment
        self._signs = torch.zeros((), device=device)  # sum of sign(D(real)) since the last move
        self._count = 0  # critic updates since the last move
        self._seen = 0  # their real outputs

    def __call__(self, x: Tensor) -> Tensor:
        for name in self.policies:
            moved = TRANSFORMS[name](x)
            if self.target is None:  # p = 1: every sample, as DiffAugment
                x = moved
            else:
                chosen = torch.rand(len(x), 1, 1, 1, device=x.device) < self.p
                x = torch.where(chosen, moved, x)
        return x

    def around(self, critic: Callable) -> Callable:
        """`critic` judging augmented images: critic(augment(x), *rest)."""
        return lambda x, *rest: critic(self(x), *rest)

    def observe(self, real_out: Tensor) -> None:
        """One critic update's outputs on its real batch (B,); every ADA_INTERVAL updates
        p moves towards the target (under DDP, by every rank's outputs)."""
        if self.target is None:
            return
        self._signs = self._signs + torch.sign(real_out.detach().float()).sum()
        self._seen += len(real_out)
        self._count += 1
        if self._count < ADA_INTERVAL:
            return
        signs, seen = self._signs, self._seen
        if self.world is not None and self.world.active:
            signs, seen = self.world.sum(signs), seen * self.world.size
        r_t = signs / seen
        self.p = (self.p + torch.sign(r_t - self.target) * self.speed).clamp(0.0, 1.0)
        self._signs, self._count, self._seen = torch.zeros_like(self._signs), 0, 0

    def state_dict(self) -> dict:
        return {
            "p": self.p.detach().cpu(),
            "signs": self._signs.detach().cpu(),
            "count": self._count,
            "seen": self._seen,
        }

    def load_state_dict(self, state: dict) -> None:
        device = self.p.device
        self.p = state["p"].to(device)
        self._signs = state["signs"].to(device)
        self._count, self._seen = state["count"], state["seen"]
