"""One training step: n_critic critic updates, then one generator update.

What is trained (`GAN`: its named networks, each with its optimizer and schedule, the
objective's math, the constraint's hooks) and how one step runs it; the loop around it
owns the cadence of everything else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.swa_utils import AveragedModel

from gan_cli.constraints import Constraint
from gan_cli.data.augment import Augment
from gan_cli.data.base import DataSource
from gan_cli.losses import Objective
from gan_cli.losses.joint import CRITIC, GENERATOR, RECONSTRUCTOR
from gan_cli.models.conditional import generate
from gan_cli.models.pacgan import pack
from gan_cli.training.conditioning import Classes
from gan_cli.training.distributed import World
from gan_cli.training.unroll import Unroller


@dataclass
class Forwards:
    """The callables each part of a step runs the networks through.

    `g` and `d` compute the losses whose gradients train the generator and the critic:
    under DistributedDataParallel they are the wrapped modules, which average those
    gradients across ranks. `g_local` (the critic step's fakes) and `d_local` (the
    critic inside the generator step) need no parameter gradients, so they are this
    rank's own modules, outside the wrapper. Any of them may be `torch.compile`d. With
    none of that, all four are the plain modules.
    """

    g: Callable[[Tensor], Tensor]
    d: Callable[[Tensor], Tensor]
    g_local: Callable[[Tensor], Tensor]
    d_local: Callable[[Tensor], Tensor]
    r: Callable[[Tensor], Tensor] | None = None  # the reconstructor of a GAN on pairs


@dataclass
class Network:
    """One trained network, with its optimizer and its learning-rate schedule (None:
    constant). In a checkpoint its weights go under its name in `GAN.networks` and its
    optimizer's state under `opt_<tag>` (opt_g, opt_d: the two-network format)."""

    module: nn.Module
    optimizer: torch.optim.Optimizer
    tag: str
    schedule: LRScheduler | None = None


@dataclass
class GAN:
    """Everything that is trained, and how: `networks` by name, the generator and the
    critic first (a third network, such as a reconstructor, is one more entry: the
    checkpoint, the schedules and the finiteness checks take it from there)."""

    networks: dict[str, Network]
    objective: Objective
    constraint: Constraint
    n_critic: int
    critic_warmup: bool = False
    ema: AveragedModel | None = None  # an exponential moving average of the generator
    forwards: Forwards | None = None  # None: the plain modules
    pack_size: int = 1  # PacGAN: the critic judges packs of this many samples (loss.pack)
    unroller: Unroller | None = None  # unrolled GAN: simulated critic steps in G's update
    critic_updates: int = 0  # so far (a lazy penalty applies on every k-th)
    classes: Classes | None = None  # a class-conditional GAN's classes; None: unconditional
    augment: Augment | None = None  # what the critic sees (data.augment); in `forwards`

    def __post_init__(self) -> None:
        if self.forwards is None:
            G, D, R = self.generator, self.critic, self.reconstructor
            self.forwards = Forwards(g=G, d=D, g_local=G, d_local=D, r=R)

    @property
    def generator(self) -> nn.Module:
        return self.networks[GENERATOR].module

    @property
    def critic(self) -> nn.Module:
        return self.networks[CRITIC].module

    @property
    def reconstructor(self) -> nn.Module | None:
        """F: x -> z of a GAN on pairs (loss=ali|veegan); None for the others."""
        net = self.networks.get(RECONSTRUCTOR)
        return None if net is None else net.module

    @property
    def opt_g(self) -> torch.optim.Optimizer:
        return self.networks[GENERATOR].optimizer

    @property
    def opt_d(self) -> torch.optim.Optimizer:
        return self.networks[CRITIC].optimizer

    @property
    def modules(self) -> tuple[nn.Module, ...]:
        return tuple(n.module for n in self.networks.values())

    @property
    def schedules(self) -> list[LRScheduler]:
        """The learning-rate schedules, in the networks' order; stepped after each step."""
        return [n.schedule for n in self.networks.values() if n.schedule is not None]

    @property
    def z_dim(self) -> int:
        """The latent size: the generator's own, the one source gan-sample reads too."""
        return self.generator.z_dim

    @property
    def sampler(self) -> nn.Module:
        """The generator behind samples and evaluation: the averaged one when kept."""
        return self.ema.module if self.ema is not None else self.generator

    def labels(self, n: int, device, generator: torch.Generator | None = None) -> Tensor | None:
        """Labels (n,) for n generated samples, from the data's class frequencies; None
        for an unconditional GAN."""
        return None if self.classes is None else self.classes.draw(n, device, generator)

    def judge(self, critic: Callable, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """The critic's output (B,) on x (of classes y when conditional), in float32, and
        the auxiliary classifier's loss (acgan) or None."""
        if self.classes is None:
            return critic(x).float(), None
        out, aux = self.classes.judge(critic, x, y)
        return out.float(), aux

    def critic_on_points(self, x: Tensor) -> Tensor:
        """The critic's value at each sample of x, as plots show it: with packing, the
        value of a pack of m copies of the sample; on pairs, D(x, F(x))."""
        if self.reconstructor is not None:
            return self.critic(x, self.reconstructor(x))
        return self.critic(pack(x.repeat_interleave(self.pack_size, 0), self.pack_size))

    def critic_steps(self, step: int) -> int:
        """Critic updates before generator step `step` (1-based).

        With critic_warmup, the WGAN reference code's schedule: 100 for the first 25
        generator steps and for every 500th, so the critic is near its optimum when the
        generator reads its gradient.
        """
        if self.critic_warmup and (step <= 25 or (step - 1) % 500 == 0):
            return 100
        return self.n_critic


class Diverged(Exception):  # noqa: N818 - the message is the one line the user sees
    pass


class Guard:
    """`trainer.nan_policy`: what a non-finite loss does.

    stop: the run stops with one line naming the step and the loss; the losses of a
    step are checked together at its end (one synchronization per generator step), and
    since nothing is saved after a bad step, the last checkpoint stays a good one.
    skip: each update whose loss is non-finite is not applied (a synchronization per
    update); `skipped` counts the generator steps that lost an update. If the weights
    themselves are no longer finite, skipping cannot help and the run stops.
    """

    def __init__(self, policy: str, world: World) -> None:
        self.policy, self.world = policy, world
        self.skipped = 0
        self._losses: list[tuple[str, Tensor]] = []
        self._bad: tuple[str, float] | None = None

    def allows(self, name: str, loss: Tensor) -> bool:
        """Whether the update from `loss` may be applied."""
        if self.policy == "stop":
            self._losses.append((name, loss.detach()))
            return True
        bad = self.world.any(not bool(torch.isfinite(loss)))
        if bad and self._bad is None:
            self._bad = (name, loss.item())
        return not bad

    def end_step(self, step: int, modules: tuple[nn.Module, ...]) -> None:
        """Raise Diverged if this step's losses (stop) or the weights (skip) are non-finite."""
        losses, self._losses = self._losses, []
        if self.policy == "stop":
            finite = torch.stack([torch.isfinite(loss).all() for _, loss in losses]).all()
            if self.world.any(not bool(finite)):
                name, value = next(
                    ((n, loss.item()) for n, loss in losses if not torch.isfinite(loss)),
                    ("a loss on another rank", float("nan")),
                )
                raise Diverged(f"step {step}: {name} is {value} (trainer.nan_policy=stop)")
        elif self._bad is not None:
            name, value = self._bad
            self._bad = None
            self.skipped += 1
            if not all_finite(modules):
                raise Diverged(
                    f"step {step}: {name} is {value} and the weights are no longer finite, "
                    "so skipping steps cannot recover (trainer.nan_policy=skip)"
                )


def all_finite(modules: tuple[nn.Module, ...]) -> bool:
    return all(bool(torch.isfinite(p).all()) for m in modules for p in m.parameters())


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The training forward passes' precision: 32 (float32) or bf16 (bfloat16 autocast;
    losses are computed in float32 from the networks' outputs)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(gan: GAN, data: DataSource, step: int, guard: Guard, precision) -> dict[str, Tensor]:
    """Generator step `step`: its critic steps, then one generator update.

    Returns the losses of the generator update and of the last critic update, the
    critic's outputs on that update's batches (for the logged estimate) and the batches
    themselves (for the health scalars). With packing,
    every batch is m times the batch size of samples, packed in m's: pack i holds
    samples i*m .. i*m + m - 1 of one kind, real or generated.
    """
    nets, m = gan.forwards, gan.pack_size
    for _ in range(gan.critic_steps(step)):
        real, y = real_batch(gan, data, m)  # y: the labels, for a conditional GAN
        with precision:
            with torch.no_grad():  # fakes of the real batch's classes
                fake = pack(generate(nets.g_local, noise(gan, real), y), m)
            real_out, real_aux = gan.judge(nets.d, real, y)
            fake_out, fake_aux = gan.judge(nets.d, fake, y)
            d_loss = gan.objective.d_loss(real_out, fake_out)
            if real_aux is not None:  # acgan: classify the real and the generated images
                aux = real_aux + fake_aux
                d_loss = d_loss + aux
            penalty = None
            if gan.critic_updates % gan.constraint.penalty_every == 0:
                # with labels, the penalty differentiates in the image at the real class
                critic = nets.d if y is None else lambda x, y=y: nets.d(x, y)
                penalty = gan.constraint.penalty(critic, real, fake)
            if penalty is not None:
                d_loss = d_loss + penalty
        gan.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        gan.critic_updates += 1
        if gan.augment is not None:  # ADA: p follows the critic's outputs on real data
            gan.augment.observe(real_out)
        if guard.allows("loss/d", d_loss):
            gan.opt_d.step()
            gan.constraint.after_d_step(gan.critic)

    gan.critic.requires_grad_(False)  # the generator step needs gradients through D, not for it
    with precision:
        critic = nets.d_local
        if gan.unroller is not None:
            ahead = [(real_packs(data, m), noise(gan, real)) for _ in range(gan.unroller.steps)]
            critic = gan.unroller.critic_after(nets.g, ahead, m, gan.critic_updates)
        z = noise(gan, real)
        y_g = gan.labels(len(z), z.device)
        fake_out_g, g_aux = gan.judge(critic, pack(generate(nets.g, z, y_g), m), y_g)
        g_loss = gan.objective.g_loss(fake_out_g)
        if g_aux is not None:
            g_loss = g_loss + g_aux
    gan.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    gan.critic.requires_grad_(True)
    if guard.allows("loss/g", g_loss):
        gan.opt_g.step()
        if gan.ema is not None:
            gan.ema.update_parameters(gan.generator)
    for schedule in gan.schedules:
        schedule.step()
    out = {"loss/d": d_loss, "loss/g": g_loss, "real_out": real_out, "fake_out": fake_out.detach()}
    out |= {"real": real, "fake": fake}  # the last critic batches, for the health scalars
    if real_aux is not None:
        out["loss/acgan"] = aux.detach()
    return out if penalty is None else {**out, "loss/penalty": penalty}


def real_batch(gan: GAN, data: DataSource, m: int) -> tuple[Tensor, Tensor | None]:
    """The critic step's real batch, with its labels for a conditional GAN (which does
    not pack); packs of m samples and None otherwise."""
    return data.sample_labelled() if gan.classes is not None else (real_packs(data, m), None)


def real_packs(data: DataSource, m: int) -> Tensor:
    """A batch of m * batch_size real samples, packed (one batch when m is 1)."""
    return data.sample() if m == 1 else pack(torch.cat([data.sample() for _ in range(m)]), m)


def noise(gan: GAN, packs: Tensor) -> Tensor:
    """Latents for as many generated samples as `packs` holds."""
    return torch.randn(len(packs) * gan.pack_size, gan.z_dim, device=packs.device)
