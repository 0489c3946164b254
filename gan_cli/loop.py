"""The training loop. It owns the mechanics (n_critic critic steps per generator step,
zero_grad/step, the cadence of logging, sampling, evaluation and checkpoints) and
knows no loss by name: the objective gives the math, the constraint the Lipschitz hooks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gan_cli.checkpoint import save_checkpoint
from gan_cli.console import live_stats, progress_bar
from gan_cli.constraints import Constraint
from gan_cli.losses import Objective
from gan_cli.metrics.exact_w1 import exact_w1
from gan_cli.metrics.modes import mode_coverage
from gan_cli.metrics.sliced import sliced_w1
from gan_cli.plots import image_grid, toy_scatter
from gan_cli.tracking import Tracker


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


def train(
    gan: GAN,
    data: Any,
    schedule: Schedule,
    tracker: Tracker,
    run_dir: Path,
    checkpoint_extra: dict[str, Any],
    seed: int,
) -> dict[str, float]:
    """Run `schedule.steps` generator steps; return the latest value of every scalar.

    `data` yields training batches from `sample()` and holds `heldout` real samples.
    `checkpoint_extra` (the resolved config) is stored in every checkpoint.
    """
    G, D, objective, constraint = gan.generator, gan.critic, gan.objective, gan.constraint
    device = data.heldout.device
    # Evaluation and plots draw their noise from their own generator, so the training
    # trajectory does not depend on how often they run.
    eval_rng = torch.Generator(device=device).manual_seed(seed)
    # one fixed batch of latents for every sample figure: 1,000 points or a grid of 64 images
    n_plot = 1000 if data.heldout.dim() == 2 else 64
    plot_z = torch.randn(n_plot, gan.z_dim, generator=eval_rng, device=device)
    last: dict[str, float] = {}
    tick, tick_step = time.perf_counter(), 0

    with progress_bar() as bar:
        task = bar.add_task("train", total=schedule.steps, stats="")
        for step in range(1, schedule.steps + 1):
            for _ in range(gan.critic_steps(step)):
                real = data.sample()
                with torch.no_grad():
                    fake = G(torch.randn(real.shape[0], gan.z_dim, device=device))
                real_out, fake_out = D(real), D(fake)
                d_loss = objective.d_loss(real_out, fake_out)
                penalty = constraint.penalty(D, real, fake)
                if penalty is not None:
                    d_loss = d_loss + penalty
                gan.opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                gan.opt_d.step()
                constraint.after_d_step(D)

            D.requires_grad_(False)  # the generator step needs gradients through D, not for it
            g_loss = objective.g_loss(D(G(torch.randn(real.shape[0], gan.z_dim, device=device))))
            gan.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            gan.opt_g.step()
            D.requires_grad_(True)

            record: dict[str, float] = {}
            if schedule.due(schedule.log_every, step):
                record["loss/d"] = d_loss.item()
                record["loss/g"] = g_loss.item()
                if penalty is not None:
                    record["loss/penalty"] = penalty.item()
                if objective.estimate_keys:  # on the last critic step's batch
                    record[objective.estimate_keys[0]] = objective.estimate(
                        real_out.detach(), fake_out.detach()
                    ).item()
                record["time/steps_per_s"] = (step - tick_step) / (time.perf_counter() - tick)
            if schedule.due(schedule.eval_every, step):
                record.update(
                    evaluate(G, D, objective, data.heldout, gan.z_dim, eval_rng, data.modes)
                )
            if record:
                tracker.log(record, step)
                last.update(record)
                bar.update(task, stats=live_stats(last))
            if schedule.due(schedule.sample_every, step):
                path = run_dir / "samples" / f"step_{step:07d}.png"
                draw_samples(path, G, D, plot_z, data.heldout, f"step {step}")
                tracker.log_image("samples", path, step)
            if schedule.due(schedule.ckpt_every, step):
                state = {
                    "step": step,
                    "config": checkpoint_extra,
                    "generator": G.state_dict(),
                    "discriminator": D.state_dict(),
                    "opt_g": gan.opt_g.state_dict(),
                    "opt_d": gan.opt_d.state_dict(),
                }
                if schedule.ckpt_every > 0 and step % schedule.ckpt_every == 0:
                    save_checkpoint(state, run_dir / "checkpoints" / f"step_{step:07d}.pt")
                save_checkpoint(state, run_dir / "checkpoints" / "last.pt")
            bar.advance(task)
            if "time/steps_per_s" in record:  # time the training steps, not the bookkeeping
                tick, tick_step = time.perf_counter(), step
    return last


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
