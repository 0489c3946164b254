"""The training loop. It owns the mechanics (n_critic critic steps per generator step,
zero_grad/step, the cadence of logging, sampling, evaluation and checkpoints, the
divergence guard, preemption, resume) and knows no loss by name: the objective gives
the math, the constraint the Lipschitz hooks.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from gan_cli import rng
from gan_cli.checkpoint import prune, remove_partial_writes, save_checkpoint
from gan_cli.console import live_stats, progress_bar
from gan_cli.constraints import Constraint
from gan_cli.distributed import World
from gan_cli.losses import Objective
from gan_cli.metrics.exact_w1 import exact_w1
from gan_cli.metrics.modes import mode_coverage
from gan_cli.metrics.sliced import sliced_w1
from gan_cli.plots import image_grid, toy_scatter
from gan_cli.preemption import PreemptionHandler
from gan_cli.tracking import Tracker

log = logging.getLogger(__name__)

NAN_POLICIES = ("stop", "skip")
PRECISIONS = ("32", "bf16")


@dataclass
class Forwards:
    """The callables each part of a step runs the networks through.

    `g` and `d` compute the losses whose gradients train the generator and the critic:
    under DistributedDataParallel they are the wrapped modules, which average those
    gradients across ranks. `g_fixed` (the critic step's fakes) and `d_fixed` (the
    critic inside the generator step) need no parameter gradients, so they bypass the
    wrapper. Any of them may be `torch.compile`d. With none of that, all four are the
    plain modules.
    """

    g: Callable[[Tensor], Tensor]
    d: Callable[[Tensor], Tensor]
    g_fixed: Callable[[Tensor], Tensor]
    d_fixed: Callable[[Tensor], Tensor]


@dataclass
class GAN:
    """Everything that is trained, and how."""

    generator: nn.Module
    critic: nn.Module
    objective: Objective
    constraint: Constraint
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    n_critic: int
    z_dim: int
    critic_warmup: bool = False
    ema: AveragedModel | None = None  # an exponential moving average of the generator
    forwards: Forwards | None = None  # None: the plain modules

    def __post_init__(self) -> None:
        if self.forwards is None:
            G, D = self.generator, self.critic
            self.forwards = Forwards(g=G, d=D, g_fixed=G, d_fixed=D)

    @property
    def sampler(self) -> nn.Module:
        """The generator behind samples and evaluation: the averaged one when kept."""
        return self.ema.module if self.ema is not None else self.generator

    def critic_steps(self, step: int) -> int:
        """Critic updates before generator step `step` (1-based).

        With critic_warmup, the WGAN reference code's schedule: 100 for the first 25
        generator steps and for every 500th, so the critic is near its optimum when the
        generator reads its gradient.
        """
        if self.critic_warmup and (step <= 25 or (step - 1) % 500 == 0):
            return 100
        return self.n_critic


@dataclass
class Schedule:
    """Generator steps and the cadence (in generator steps) of everything else.

    A cadence of 0 means only at the final step, which always logs, evaluates, samples
    and writes checkpoints/last.pt.
    """

    steps: int
    log_every: int
    sample_every: int
    eval_every: int
    ckpt_every: int

    def due(self, every: int, step: int) -> bool:
        return step == self.steps or (every > 0 and step % every == 0)


@dataclass
class Options:
    """How the run goes, beyond what is trained (the `trainer` keys)."""

    seed: int
    config: dict[str, Any]  # the resolved config, stored in every checkpoint
    nan_policy: str = "stop"
    precision: str = "32"
    keep_checkpoints: int = 0  # periodic checkpoints kept, newest first; 0 keeps all
    world: World = field(default_factory=World)


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


def train_step(gan: GAN, data: Any, step: int, guard: Guard, precision) -> dict[str, Tensor]:
    """Generator step `step`: its critic steps, then one generator update.

    Returns the losses of the generator update and of the last critic update, and the
    critic's outputs on that update's batches (for the logged estimate).
    """
    F = gan.forwards
    for _ in range(gan.critic_steps(step)):
        real = data.sample()
        with precision:
            with torch.no_grad():
                fake = F.g_fixed(torch.randn(real.shape[0], gan.z_dim, device=real.device))
            real_out, fake_out = F.d(real).float(), F.d(fake).float()
            d_loss = gan.objective.d_loss(real_out, fake_out)
            penalty = gan.constraint.penalty(F.d, real, fake)
            if penalty is not None:
                d_loss = d_loss + penalty
        gan.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        if guard.allows("loss/d", d_loss):
            gan.opt_d.step()
            gan.constraint.after_d_step(gan.critic)

    gan.critic.requires_grad_(False)  # the generator step needs gradients through D, not for it
    with precision:
        z = torch.randn(real.shape[0], gan.z_dim, device=real.device)
        g_loss = gan.objective.g_loss(F.d_fixed(F.g(z)).float())
    gan.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    gan.critic.requires_grad_(True)
    if guard.allows("loss/g", g_loss):
        gan.opt_g.step()
        if gan.ema is not None:
            gan.ema.update_parameters(gan.generator)
    out = {"loss/d": d_loss, "loss/g": g_loss, "real_out": real_out, "fake_out": fake_out.detach()}
    return out if penalty is None else {**out, "loss/penalty": penalty}


def train(
    gan: GAN,
    data: Any,
    schedule: Schedule,
    tracker: Tracker,
    run_dir: Path,
    options: Options,
    resume: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Run generator steps up to `schedule.steps`; return the latest value of every scalar.

    `data` yields training batches from `sample()` and holds `heldout` real samples.
    `resume`, a checkpoint, continues its run from its step, exactly. On several ranks
    every rank calls this; only rank 0 logs, samples, evaluates and saves.
    """
    world = options.world
    device = data.heldout.device
    # Evaluation and plots draw their noise from their own generator, so the training
    # trajectory does not depend on how often they run.
    eval_rng = torch.Generator(device=device).manual_seed(options.seed)
    # one fixed batch of latents for every sample figure: 1,000 points or a grid of 64 images
    n_plot = 1000 if data.heldout.dim() == 2 else 64
    plot_z = torch.randn(n_plot, gan.z_dim, generator=eval_rng, device=device)
    guard = Guard(options.nan_policy, world)
    first = 1 if resume is None else restore(resume, gan, data, eval_rng, guard, world) + 1
    checkpoints = run_dir / "checkpoints"
    saved_step = None if resume is None else first - 1
    if world.is_main:
        remove_partial_writes(checkpoints)
    precision = autocast(device, options.precision)
    last: dict[str, float] = dict(tracker.latest)
    tick, tick_step = time.perf_counter(), first - 1

    def save(step: int, periodic: bool) -> None:
        state = checkpoint_state(gan, data, step, eval_rng, guard, options, tracker.wandb_id)
        if state is not None:  # rank 0
            if periodic:
                save_checkpoint(state, checkpoints / f"step_{step:07d}.pt")
                prune(checkpoints, options.keep_checkpoints)
            save_checkpoint(state, checkpoints / "last.pt")

    with PreemptionHandler() as signals, progress_bar(world.is_main) as bar:
        task = bar.add_task("train", total=schedule.steps, completed=first - 1, stats="")
        for step in range(first, schedule.steps + 1):
            out = train_step(gan, data, step, guard, precision)
            try:
                guard.end_step(step, (gan.generator, gan.critic))
            except Diverged as e:
                kept = f"checkpoints/last.pt (step {saved_step})" if saved_step else "none yet"
                raise Diverged(f"{e}; the last good checkpoint is {kept}") from None

            record: dict[str, float] = {}
            if schedule.due(schedule.log_every, step) and world.is_main:
                record = {k: v.item() for k, v in out.items() if k.startswith("loss/")}
                if keys := gan.objective.estimate_keys:  # on the last critic step's batch
                    estimate = gan.objective.estimate(out["real_out"].detach(), out["fake_out"])
                    record[keys[0]] = estimate.item()
                if options.nan_policy == "skip":
                    record["train/skipped_steps"] = guard.skipped
                record["time/steps_per_s"] = (step - tick_step) / (time.perf_counter() - tick)
            if schedule.due(schedule.eval_every, step) and world.is_main:
                record.update(
                    evaluate(
                        gan.sampler,
                        gan.critic,
                        gan.objective,
                        data.heldout,
                        gan.z_dim,
                        eval_rng,
                        data.modes,
                    )
                )
            if record:
                tracker.log(record, step)
                last.update(record)
                bar.update(task, stats=live_stats(last))
            if schedule.due(schedule.sample_every, step) and world.is_main:
                path = run_dir / "samples" / f"step_{step:07d}.png"
                draw_samples(path, gan.sampler, gan.critic, plot_z, data.heldout, f"step {step}")
                tracker.log_image("samples", path, step)
            preempted = world.any(signals.signum is not None)
            if schedule.due(schedule.ckpt_every, step) or preempted:
                if not all_finite((gan.generator, gan.critic)):
                    raise Diverged(f"step {step}: the weights are no longer finite")
                periodic = schedule.ckpt_every > 0 and step % schedule.ckpt_every == 0
                save(step, periodic)
                saved_step = step
            bar.advance(task)
            if preempted:
                raise signals.stop(step)
            if "time/steps_per_s" in record:  # time the training steps, not the bookkeeping
                tick, tick_step = time.perf_counter(), step
    return last


def checkpoint_state(
    gan: GAN,
    data: Any,
    step: int,
    eval_rng: torch.Generator,
    guard: Guard,
    options: Options,
    wandb_id: str | None,
) -> dict[str, Any] | None:
    """Everything a resumed run needs to go on exactly; None on ranks other than 0.

    Each rank draws its own random numbers, so each rank's generator states are kept.
    """
    world = options.world
    streams = {**rng.capture(), "data": data.state_dict(), "eval": eval_rng.get_state()}
    streams = world.gather(streams)
    if not world.is_main:
        return None
    state = {
        "step": step,
        "config": options.config,
        "generator": gan.generator.state_dict(),
        "discriminator": gan.critic.state_dict(),
        "opt_g": gan.opt_g.state_dict(),
        "opt_d": gan.opt_d.state_dict(),
        "rng": streams,
        "skipped_steps": guard.skipped,
        "wandb_id": wandb_id,
    }
    if gan.ema is not None:
        state["generator_ema"] = gan.ema.module.state_dict()
        state["ema_averaged"] = gan.ema.n_averaged
    return state


def restore(
    state: dict[str, Any],
    gan: GAN,
    data: Any,
    eval_rng: torch.Generator,
    guard: Guard,
    world: World,
) -> int:
    """Load a checkpoint's state into the run; return its step."""
    gan.generator.load_state_dict(state["generator"])
    gan.critic.load_state_dict(state["discriminator"])
    gan.opt_g.load_state_dict(state["opt_g"])
    gan.opt_d.load_state_dict(state["opt_d"])
    if gan.ema is not None and "generator_ema" in state:
        gan.ema.module.load_state_dict(state["generator_ema"])
        gan.ema.n_averaged.copy_(state["ema_averaged"])
    guard.skipped = state.get("skipped_steps", 0)
    streams = state["rng"]
    if len(streams) == world.size:
        mine = streams[world.rank]
        rng.restore(mine)
        data.load_state_dict(mine["data"])
        eval_rng.set_state(mine["eval"])
    else:  # the weights are exact; the random streams cannot be
        log.warning(
            "the checkpoint was written by %d processes, this run has %d: "
            "random number streams start afresh",
            len(streams),
            world.size,
        )
    return state["step"]


@contextmanager
def eval_mode(*modules: nn.Module):
    """Put modules in eval mode (batch norm statistics frozen) and restore their mode."""
    was_training = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, was_training, strict=True):
            m.train(mode)


@torch.no_grad()
def evaluate(
    G: nn.Module,
    D: nn.Module,
    objective: Objective,
    heldout: Tensor,
    z_dim: int,
    rng: torch.Generator,
    modes: tuple[Tensor, float] | None = None,
) -> dict[str, float]:
    """Estimates on held-out real data (N, ...) against N fresh generated samples.

    The objective's estimate (e.g. E_real f - E_fake f); on 2-D data the exact W1
    between the two sets by optimal transport, on images the sliced W1 on pixels; on
    Gaussian mixtures (`modes`: centres and std) the modes captured and the high-quality
    fraction.
    """
    with eval_mode(G, D):
        z = torch.randn(len(heldout), z_dim, generator=rng, device=heldout.device)
        fake = _chunked(G, z)
        out: dict[str, float] = {}
        if objective.estimate_keys:
            estimate = objective.estimate(_chunked(D, heldout), _chunked(D, fake))
            out[objective.estimate_keys[1]] = estimate.item()
        if heldout.dim() == 2 and heldout.shape[1] == 2:
            out["wasserstein/exact"] = exact_w1(fake, heldout)
        else:
            out["wasserstein/sliced"] = sliced_w1(fake, heldout)
        if modes is not None:  # VEEGAN/PacGAN protocol: 2,500 samples
            z = torch.randn(2500, z_dim, generator=rng, device=heldout.device)
            out.update(mode_coverage(G(z), *modes))
    return out


def _chunked(net: nn.Module, x: Tensor, size: int = 500) -> Tensor:
    """net(x) in chunks of `size`, so evaluation memory stays that of a batch."""
    return torch.cat([net(part) for part in x.split(size)])


def draw_samples(
    path: Path, G: nn.Module, D: nn.Module, z: Tensor, real: Tensor, title: str
) -> None:
    """The sample figure for this step: on 2-D data, points over the critic's contour;
    on images, a grid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with eval_mode(G, D), torch.no_grad():
        fake = G(z)
        if real.dim() != 2:
            image_grid(path, fake)
            return
        critic: Callable[[Tensor], Tensor] = lambda p: D(p.to(real.device))  # noqa: E731
        toy_scatter(path, fake, real[: len(z)], critic, title)
