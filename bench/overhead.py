"""1. Loop overhead, 2. hardware use: gan-train's loop against a bare PyTorch loop of the
same model, loss, batch and n_critic, written here, alternating the two so that machine
noise hits both; and a DCGAN step's FLOP/s against the machine's matmul peak."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from bench.common import config, data_root, timed_train
from gan_cli.config.build import assemble
from gan_cli.config.spec import check

CASES = {
    "mlp toy2d wgan_gp": ["model=mlp", "data=toy2d", "loss=wgan_gp"],
    # the same with evaluation and sample plots at the final step only: the loop's own cost
    "mlp toy2d wgan_gp, eval at end": [
        "model=mlp",
        "data=toy2d",
        "loss=wgan_gp",
        "trainer.eval_every=0",
        "trainer.sample_every=0",
    ],
    "dcgan cifar10 vanilla": ["model=dcgan", "data=cifar10", "loss=vanilla"],
    "dcgan cifar10 wgan_gp": ["model=dcgan", "data=cifar10", "loss=wgan_gp"],
}
# generator steps per timed block and rounds (one block of each kind per round)
# (the VMs this was written on drift by several percent between minutes: three rounds
# give a median that one slow block cannot move)
FULL = {
    "mlp toy2d wgan_gp": (500, 3),
    "mlp toy2d wgan_gp, eval at end": (500, 3),
    "dcgan cifar10 vanilla": (250, 3),
    "dcgan cifar10 wgan_gp": (100, 1),
}
QUICK = {
    "mlp toy2d wgan_gp": (100, 1),
    "mlp toy2d wgan_gp, eval at end": (100, 1),
    "dcgan cifar10 vanilla": (20, 1),
    "dcgan cifar10 wgan_gp": (5, 1),
}


class BareGAN:
    """The loop anyone would write: same networks, optimizers, batch and n_critic;
    the losses written out; nothing logged, sampled, evaluated or saved."""

    def __init__(self, cfg, device: torch.device) -> None:
        cfg = check(cfg)
        gan, self.data = assemble(cfg, device)  # the same networks and optimizers
        self.G, self.D, self.opt_g, self.opt_d = gan.generator, gan.critic, gan.opt_g, gan.opt_d
        self.wgan_gp = "gp_lambda" in cfg.loss
        self.gp_lambda = cfg.loss.get("gp_lambda", 0.0)
        self.n_critic, self.z_dim = cfg.loss.n_critic, gan.z_dim
        self.batch, self.device = cfg.data.batch_size, device
        if hasattr(self.data, "images"):  # uint8 images in memory, as a bare loop keeps them
            images = self.data.images
            self.sample = lambda: (
                images[torch.randint(len(images), (self.batch,), device=images.device)]
                .float()
                .div(127.5)
                .sub(1)
            )
        else:
            self.sample = self.data.sample

    def step(self) -> None:
        G, D, B = self.G, self.D, self.batch
        for _ in range(self.n_critic):
            real = self.sample()
            with torch.no_grad():
                fake = G(torch.randn(B, self.z_dim, device=self.device))
            real_out, fake_out = D(real), D(fake)
            if self.wgan_gp:
                eps = torch.rand(B, *[1] * (real.dim() - 1), device=self.device)
                x = (eps * real + (1 - eps) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
                gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
                d_loss = fake_out.mean() - real_out.mean() + self.gp_lambda * gp
            else:
                d_loss = F.softplus(-real_out).mean() + F.softplus(fake_out).mean()
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        D.requires_grad_(False)
        out = D(G(torch.randn(B, self.z_dim, device=self.device)))
        g_loss = -out.mean() if self.wgan_gp else F.softplus(-out).mean()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        D.requires_grad_(True)

    def steps_per_s(self, steps: int) -> float:
        self.step()  # warm-up
        _sync(self.device)
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        _sync(self.device)
        return steps / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def overhead(quick: bool, work: Path, device: str = "cpu", cases=None) -> dict[str, Any]:
    """Steps/s of each, per round, and the median ratio gan-train / bare.

    A short warm-up of both comes first and is not counted (the first gan-train run in a
    process also starts W&B's service, a cost paid once per process, not per step); the
    rounds then alternate which of the two goes first.
    """
    plan = QUICK if quick else FULL
    root = data_root(work / "data")
    out = {}
    for name in cases or CASES:
        steps, rounds = plan[name]
        overrides = [*CASES[name], f"trainer.device={device}", "logger.mode=offline"]
        if "data=cifar10" in overrides:
            overrides += [f"data.root={root}", "data.download=false"]

        runs = {
            "ours": lambda n, o=overrides: _gan_train_rate(o, n, work),
            "bare": lambda n, o=overrides: _bare_rate(o, n, device),
        }
        warm = max(steps // 10, 2)
        for run in runs.values():
            run(warm)
        rates = {"ours": [], "bare": []}
        for r in range(rounds):
            for key in ("ours", "bare") if r % 2 == 0 else ("bare", "ours"):
                rates[key].append(runs[key](steps))
        ratios = [o / b for o, b in zip(rates["ours"], rates["bare"], strict=True)]
        out[name] = {
            "steps_per_block": steps,
            "gan_train_steps_per_s": rates["ours"],
            "bare_steps_per_s": rates["bare"],
            "ratios": ratios,
            "ratio": statistics.median(ratios),
        }
    return out


def _gan_train_rate(overrides: list[str], steps: int, work: Path) -> float:
    with tempfile.TemporaryDirectory(dir=work) as run:
        seconds, _ = timed_train(config(*overrides, f"trainer.steps={steps}"), Path(run))
    return steps / seconds


def _bare_rate(overrides: list[str], steps: int, device: str) -> float:
    cfg = config(*overrides, f"trainer.steps={steps}")
    return BareGAN(cfg, torch.device(device)).steps_per_s(steps)


def hardware(quick: bool, work: Path, steps_per_s: float | None) -> dict[str, Any]:
    """FLOPs of one DCGAN vanilla step on CIFAR-shaped data, counted by torch's flop
    counter; achieved FLOP/s at gan-train's measured step rate, against the measured
    peak of a float32 2048 x 2048 matrix multiply."""
    root = data_root(work / "data")
    cfg = config(
        *CASES["dcgan cifar10 vanilla"],
        f"data.root={root}",
        "data.download=false",
        "trainer.device=cpu",
    )
    bare = BareGAN(cfg, torch.device("cpu"))
    with FlopCounterMode(display=False) as counter:
        bare.step()
    flops = counter.get_total_flops()
    if steps_per_s is None:
        steps_per_s = bare.steps_per_s(5 if quick else 20)
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    reps = 5 if quick else 20
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    peak = 2 * n**3 * reps / (time.perf_counter() - start)
    achieved = flops * steps_per_s
    return {
        "flops_per_step": flops,
        "steps_per_s": steps_per_s,
        "achieved_flops": achieved,
        "matmul_peak_flops": peak,
        "fraction_of_peak": achieved / peak,
    }
