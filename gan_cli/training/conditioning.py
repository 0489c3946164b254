"""Class conditioning (model.conditional): which labels the generator is asked for in
training and by gan-sample (class=), and what the labels add to the losses.

The networks take the labels themselves (gan_cli.models.conditional). The critic step
asks the generator for the labels of its real batch, which follow the data's class
frequencies; the generator step draws its labels from those frequencies. With an
auxiliary classifier (acgan, Odena et al. 2017), both networks add its cross-entropy
on the images' classes, times `acgan_weight`: the critic on real and generated images,
the generator on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import ListConfig
from torch import Tensor

from gan_cli.core.errors import UserError


@dataclass
class Classes:
    """The classes of a conditional GAN: their names (K,), their shares in the training
    data (K,), the discriminator's kind (projection|acgan) and the acgan loss weight."""

    names: tuple[str, ...]
    frequencies: Tensor
    kind: str
    acgan_weight: float = 1.0

    def draw(self, n: int, device, generator: torch.Generator | None = None) -> Tensor:
        """n labels (n,) int64 drawn from the class frequencies."""
        p = self.frequencies.to(device=device, dtype=torch.float)  # a no-op in training
        return torch.multinomial(p, n, replacement=True, generator=generator)

    def judge(self, critic: Callable, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """The critic's output (B,) on images x of classes y (B,), and the auxiliary
        classifier's weighted cross-entropy (a scalar; None without one)."""
        if self.kind != "acgan":
            return critic(x, y), None
        out, logits = critic(x, y, logits=True)
        return out, self.acgan_weight * F.cross_entropy(logits.float(), y)

    def state(self) -> dict:
        """As plain data, for checkpoints: what gan-sample needs without the data set."""
        return {"names": list(self.names), "frequencies": self.frequencies.tolist()}

    def index(self, asked: int | str, key: str = "class") -> int:
        """A class by index (0..K-1) or by name; one line naming the choices otherwise."""
        names, k = self.names, len(self.names)
        if isinstance(asked, bool) or not isinstance(asked, int | str):
            raise UserError(f"{key}={asked!r}: give a class index or name")
        if isinstance(asked, int) or asked.isdigit() and asked not in names:
            if not 0 <= int(asked) < k:
                raise UserError(f"{key}={asked} is out of range: {k} classes, 0..{k - 1}")
            return int(asked)
        if asked not in names:
            shown = "|".join(names[:20]) + ("|..." if k > 20 else "")
            raise UserError(f"{key}={asked} is not a class of this checkpoint; classes: {shown}")
        return names.index(asked)


@dataclass
class SampleClasses:
    """The classes of gan-sample's samples: none (an unconditional checkpoint), those
    asked for (`asked`, indices: n of each, in order), or drawn from the data's class
    frequencies (`classes` without `asked`)."""

    classes: Classes | None = None
    asked: list[int] | None = None

    def total(self, n: int) -> int:
        """How many samples `n` asks for: n of each class asked for, else n."""
        return n * len(self.asked) if self.asked else n

    def of(self, start: int, count: int, n: int, rng: torch.Generator, device) -> Tensor | None:
        """The labels (count,) of samples start .. start + count - 1, or None."""
        if self.classes is None:
            return None
        if self.asked is None:
            return self.classes.draw(count, device, rng)
        index = torch.arange(start, start + count, device=device) // n
        return torch.tensor(self.asked, device=device)[index]


def asked_classes(value: Any, classes: Classes | None) -> list[int] | None:
    """gan-sample's class= (an index, a name or a list of them) as class indices (None
    when not given); one line for a class that is not one of the checkpoint's, or for a
    checkpoint without classes."""
    if value is None:
        return None
    asked = list(value) if isinstance(value, list | ListConfig) else [value]
    shown = value if len(asked) != 1 else asked[0]
    if classes is None:
        raise UserError(
            f"class={shown}: this checkpoint's generator is unconditional "
            "(model.conditional=none), it cannot draw a class; train one with "
            "model.conditional=projection or acgan"
        )
    if not asked:
        raise UserError("class=[]: name at least one class")
    return [classes.index(c) for c in asked]


def of_labels(labels, kind: str, acgan_weight: float, device) -> Classes:
    """The Classes of labelled data (gan_cli.data.base.Labels), frequencies on `device`."""
    frequencies = labels.frequencies().to(device=device, dtype=torch.float)
    return Classes(labels.names, frequencies, kind, acgan_weight)


def from_state(state: dict) -> Classes:
    """The Classes a checkpoint recorded (the loss weight is a training matter)."""
    saved, kind = state["classes"], state["config"]["model"]["conditional"]
    return Classes(tuple(saved["names"]), torch.tensor(saved["frequencies"]), kind)
