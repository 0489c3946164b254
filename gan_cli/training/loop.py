"""The training loop: generator steps (gan_cli.training.step), and around them the periodic tasks,
each one small piece with its cadence: log the losses, evaluate the metrics, publish the
scalars, draw samples, save a checkpoint. A new periodic task is a new piece in `tasks`,
not a new branch in the loop. The loop knows no loss, metric or data kind by name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gan_cli import metrics
from gan_cli.core.console import TrainingProgress, live_stats
from gan_cli.data.base import DataSource
from gan_cli.models.conditional import generate
from gan_cli.training.checkpoint import (
    checkpoint_state,
    prune,
    remove_partial_writes,
    restore,
    save_checkpoint,
)
from gan_cli.training.context import Run
from gan_cli.training.figures import COLUMNS, FIGURES, class_rows, first_classes
from gan_cli.training.health import health
from gan_cli.training.joint import joint_step
from gan_cli.training.preemption import PreemptionHandler
from gan_cli.training.step import GAN, Diverged, Guard, all_finite, autocast, train_step
from gan_cli.training.watch import Watch

log = logging.getLogger(__name__)


@dataclass
class State:
    """One generator step, as the periodic tasks see it."""

    step: int
    out: dict[str, Tensor]  # train_step's losses and critic outputs
    preempted: bool  # a signal asked the run to stop (on any rank)
    stop: str | None = None  # why the doctor ends the run here (doctor.stop), if it does
    record: dict[str, float] = field(default_factory=dict)  # scalars to log at this step
    images: dict[str, Path] = field(default_factory=dict)  # image files to log with them


class StepClock:
    """The seconds spent in training steps alone, since it was last read: the rate
    LogLosses logs leaves out evaluation, sampling and checkpoints between the steps."""

    def __init__(self) -> None:
        self.seconds, self.steps = 0.0, 0

    @contextmanager
    def step(self):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - start
            self.steps += 1

    def steps_per_s(self) -> float:
        """Training steps per second since the last call."""
        rate = self.steps / self.seconds if self.seconds > 0 else float("nan")
        self.seconds, self.steps = 0.0, 0
        return rate


class Periodic:
    """A task run every `every` generator steps and at the final step `last` (every = 0:
    only there)."""

    def __init__(self, every: int, last: int) -> None:
        self.every, self.last = every, last

    def due(self, state: State) -> bool:
        return state.step == self.last or (self.every > 0 and state.step % self.every == 0)

    def before_step(self, step: int) -> None:
        """Called before every generator step."""

    def __call__(self, state: State) -> None:
        raise NotImplementedError


def train(gan: GAN, data: DataSource, run: Run, resume: dict[str, Any] | None = None) -> dict:
    """Run generator steps up to trainer.steps; return the latest value of every scalar.

    `resume`, a checkpoint, continues its run from its step, exactly. On several ranks
    every rank calls this; only rank 0 logs, samples, evaluates and saves.
    """
    t, world = run.trainer, run.world
    device = data.heldout.device
    # Evaluation and plots draw their noise from their own generator, so the training
    # trajectory does not depend on how often they run.
    eval_rng = torch.Generator(device=device).manual_seed(t.seed)
    figure = FIGURES[data.kind]  # one fixed batch of latents for every sample figure
    plot_z = torch.randn(figure.n, gan.z_dim, generator=eval_rng, device=device)
    guard = Guard(t.nan_policy, world)
    first = 1 if resume is None else restore(resume, gan, data, eval_rng, guard, world) + 1
    precision = autocast(device, t.precision)
    latest: dict[str, Any] = dict(run.tracker.latest)
    last = t.steps
    checkpoint = Checkpoint(t.ckpt_every, last, gan, data, eval_rng, guard, run)
    checkpoint.saved = None if resume is None else first - 1
    clock = StepClock()
    every = t.eval_every or max(1, last // 10)  # lines of progress, without a terminal
    bar = TrainingProgress(first, last, every, visible=world.is_main)
    # a GAN of more than two networks: its objective says what each phase trains
    step_fn = joint_step if gan.objective.networks else train_step
    with PreemptionHandler() as signals, bar:
        tasks: list[Periodic] = [checkpoint]
        if world.is_main:
            tasks = [
                LogLosses(t.log_every, last, gan, guard, clock),
                Evaluate(t.eval_every, last, gan, data, eval_rng, run, bar.note),
                Sample(t.sample_every, last, gan, plot_z, data, run),
                Publish(run, latest, bar.show, gan),
                *([Diagnose(every, last, Watch(run))] if run.cfg.doctor.enabled else []),
                checkpoint,
            ]
        for step in range(first, last + 1):
            for task in tasks:
                task.before_step(step)
            with clock.step():
                out = step_fn(gan, data, step, guard, precision)
            try:
                guard.end_step(step, gan.modules)
            except Diverged as e:
                raise Diverged(f"{e}; the last good checkpoint is {checkpoint.kept}") from None
            state = State(step, out, preempted=world.any(signals.signum is not None))
            for task in tasks:
                if task.due(state):
                    task(state)
            bar.step(step)
            if state.preempted:
                raise signals.stop(step)
            if state.stop is not None:  # checkpoint written: a clean early end
                latest["doctor/stopped"] = f"step {step}: {state.stop}"
                break
    return latest


# --- the periodic tasks ----------------------------------------------------------------------


class LogLosses(Periodic):
    """The step's losses, the critic's estimate on its last training batch, the health
    scalars (gan_cli.training.health), skipped steps, and generator steps per second
    since the last log (the training steps alone: time/steps_per_s of a run is the same
    however often it evaluates)."""

    def __init__(self, every: int, last: int, gan: GAN, guard: Guard, clock: StepClock) -> None:
        super().__init__(every, last)
        self.gan, self.guard, self.clock = gan, guard, clock

    def __call__(self, state: State) -> None:
        out, objective = state.out, self.gan.objective
        record = {k: v.item() for k, v in out.items() if k.startswith("loss/")}
        if keys := objective.estimate_keys:
            record[keys[0]] = objective.estimate(out["real_out"].detach(), out["fake_out"]).item()
        if self.guard.policy == "skip":
            record["train/skipped_steps"] = self.guard.skipped
        if self.gan.augment is not None:
            record["augment/p"] = self.gan.augment.p.item()
        gan = self.gan
        constraint = gan.constraint.health(gan.critic)
        record.update(health(gan.generator, gan.critic, out, objective.decision, constraint))
        record["time/steps_per_s"] = self.clock.steps_per_s()
        state.record.update(record)


class Evaluate(Periodic):
    """The run's registered metrics on held-out data (those `at_end` at the final step),
    and a line of their values for the user (`note`)."""

    def __init__(
        self, every: int, last: int, gan: GAN, data: DataSource, eval_rng, run: Run, note: Callable
    ) -> None:
        super().__init__(every, last)
        self.gan, self.data, self.rng, self.run, self.note = gan, data, eval_rng, run, note

    def __call__(self, state: State) -> None:
        chosen = [m for m in self.run.metrics if not m.at_end or state.step == self.last]
        start = time.perf_counter()
        results = evaluate(self.gan, self.data, self.rng, self.run, chosen)
        state.record.update(results)
        state.record["time/eval_s"] = seconds = time.perf_counter() - start  # (with a
        # first evaluation's one-off costs: the domain classifier's training, Inception's load)
        if results:
            numbers = [k for k, v in results.items() if isinstance(v, float | int)]
            shown = live_stats(results, sorted(k for k in numbers if not k.endswith("/std")))
            self.note(f"step {state.step} evaluated in {seconds:.1f} s: {shown}")


class Publish(Periodic):
    """The step's scalars to metrics.jsonl and W&B, and its images to W&B, when it has
    any; the latest value of each scalar into `latest`, and the live ones (losses, the
    training estimate, the `live` scalars of the run's metrics) onto the progress bar."""

    def __init__(self, run: Run, latest: dict, show: Callable[[str], None], gan: GAN) -> None:
        super().__init__(every=0, last=0)
        self.run, self.latest, self.show = run, latest, show
        self.live = ["loss/d", "loss/g", *(gan.objective.estimate_keys or ())[:1]]
        self.live += [k for m in run.metrics for k in m.live]

    def due(self, state: State) -> bool:
        return bool(state.record or state.images)

    def __call__(self, state: State) -> None:
        self.run.tracker.log(state.record, state.step, state.images)
        if state.record:
            self.latest.update(state.record)
            self.show(live_stats(self.latest, self.live))


class Diagnose(Periodic):
    """The doctor's rules (gan_cli.training.watch): every logged record is kept, and at
    every evaluation the rules judge them; a rule of doctor.stop may end the run here."""

    def __init__(self, every: int, last: int, watch: Watch) -> None:
        super().__init__(every, last)
        self.watch = watch

    def due(self, state: State) -> bool:
        return bool(state.record)

    def __call__(self, state: State) -> None:
        self.watch.add(state.step, state.record)
        if super().due(state):
            state.stop = self.watch.check()


class Sample(Periodic):
    """The sample figure (fixed latents) to samples/step_XXXXXXX.png, and to W&B with
    the step's scalars (`samples`). A conditional generator's grid has one row per class
    (plots.first_classes), the same latent down each column."""

    def __init__(self, every: int, last: int, gan: GAN, z: Tensor, data: DataSource, run: Run):
        super().__init__(every, last)
        self.gan, self.z, self.data, self.run = gan, z, data, run

    def __call__(self, state: State) -> None:
        path = self.run.run_dir / "samples" / f"step_{state.step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        G, real = self.gan.sampler, self.data.heldout
        with eval_mode(*self.gan.modules, G), torch.no_grad():
            critic = lambda points: self.gan.critic_on_points(points.to(real.device))  # noqa: E731
            figure, z, y = FIGURES[self.data.kind], self.z, None
            if self.gan.classes is not None:
                z, y = class_rows(self.z[:COLUMNS], first_classes(len(self.gan.classes.names)))
            fake = generate(G, z, y)
            figure.draw(path, fake, real[: len(z)], critic, f"step {state.step}", nrow=COLUMNS)
        state.images["samples"] = path


class Checkpoint(Periodic):
    """checkpoints/last.pt (and step_XXXXXXX.pt every `every` steps), also when a signal
    asks the run to stop. Every rank takes part (each gives its random streams)."""

    def __init__(self, every, last, gan: GAN, data, eval_rng, guard: Guard, run: Run) -> None:
        super().__init__(every, last)
        self.gan, self.data, self.rng, self.guard, self.run = gan, data, eval_rng, guard, run
        self.folder = run.run_dir / "checkpoints"
        self.saved: int | None = None  # the step of the last checkpoint written
        if run.world.is_main:
            remove_partial_writes(self.folder)

    @property
    def kept(self) -> str:
        return f"checkpoints/last.pt (step {self.saved})" if self.saved else "none yet"

    def due(self, state: State) -> bool:
        return super().due(state) or state.preempted or state.stop is not None

    def __call__(self, state: State) -> None:
        if not all_finite(self.gan.modules):
            raise Diverged(f"step {state.step}: the weights are no longer finite")
        saved = checkpoint_state(self.gan, self.data, state.step, self.rng, self.guard, self.run)
        if saved is not None:  # rank 0
            if self.every > 0 and state.step % self.every == 0:
                save_checkpoint(saved, self.folder / f"step_{state.step:07d}.pt")
                prune(self.folder, self.run.trainer.keep_checkpoints)
            save_checkpoint(saved, self.folder / "last.pt")
        self.saved = state.step


# --- evaluation --------------------------------------------------------------------------


@torch.no_grad()
def evaluate(gan: GAN, data: DataSource, eval_rng, run: Run, chosen: list) -> dict[str, float]:
    """The chosen metrics on held-out real data (N, ...) against N fresh generated
    samples (from the averaged generator when one is kept)."""
    G, D, heldout = gan.sampler, gan.critic, data.heldout
    with eval_mode(*gan.modules, G):
        z = torch.randn(len(heldout), gan.z_dim, generator=eval_rng, device=heldout.device)
        y = gan.labels(len(z), heldout.device, eval_rng)  # None: unconditional
        fake = metrics.chunked(G, z, y)
        seed = run.trainer.seed
        ev = metrics.Evaluation(
            G,
            D,
            gan.objective,
            data,
            fake,
            eval_rng,
            run.cfg.metrics,
            seed,
            gan.pack_size,
            fake_labels=y,
            classes=gan.classes,
            reconstructor=gan.reconstructor,
        )
        out: dict[str, float] = {}
        for metric in chosen:
            out.update(metric.compute(ev))
    return out


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
