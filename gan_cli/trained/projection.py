"""Projection (GAN inversion): for each target, the latent z (and, for a conditional
generator, the class) whose sample reproduces it, found the way stylegan2-ada's
projector finds it, sized for DCGAN/SNGAN models on a CPU.

Each target is compared with the samples of `starts` random latents (for a conditional
generator with every class, unless the class is given); its TRIES best starts are
optimised side by side with Adam for `steps` steps (the learning rate warmed up over the
first 5% and annealed to zero by a cosine), the loss the squared error in data space plus, for
images, the squared error in the features of a network the run already has (`Features`:
the domain classifier where the data has labels, else the critic's penultimate layer;
no downloaded weights). After every step z is pulled back into the prior's typical set:
its norm kept within the central 99.9% of the norm of a standard normal latent (the chi
distribution with z_dim degrees of freedom), where nearly all of the latents the
generator was trained on lie. The latent of the lowest loss seen, over the steps and the
starts, is kept.

Targets are optimised together, `batch` at a time; each target's loss depends on its
own latent only, and Adam's steps are elementwise, so a target's result does not depend
on the others in its batch."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from hydra.utils import get_class
from omegaconf import OmegaConf
from torch import Tensor, nn

from gan_cli.core.console import phase
from gan_cli.data.base import DataSource
from gan_cli.models.conditional import generate

WARMUP, TYPICAL = 0.05, 0.999
# the features' share of the loss: a little helps real images look right; more slows the
# pixels' convergence (and the features cost as much again as the generator)
FEATURE_WEIGHT = 0.1
STEPS, STARTS, LR = 500, 256, 0.2
STREAM = 17  # the starts' random stream, beside the seed
CANDIDATES = 256  # start latents scored at once
TRIES = 4  # each target's best starts optimised side by side: a bad basin costs one of them


@dataclass(frozen=True)
class Features:
    """A network's features of samples, for the projection loss: `read` maps samples
    (N, ...) in data space to (N, D); `network` is the module read (its parameters are
    left without gradients while projecting); `name` says which it is."""

    read: Callable[[Tensor], Tensor]
    network: nn.Module
    name: str


def run_features(state: dict, device: torch.device) -> Features | None:
    """`features_of` a checkpoint's run, with its data where its files are here."""
    from gan_cli.config import build
    from gan_cli.core.errors import UserError

    cfg = OmegaConf.create(state["config"])
    try:  # the domain classifier needs the run's data; without it, the critic's features
        data = build.data_source(cfg, device) if len(build.sample_shape(cfg)) == 3 else None
    except UserError:
        data = None
    return features_of(state, data, device)


def features_of(state: dict, data: DataSource | None, device: torch.device) -> Features | None:
    """The features a run's projection compares images in: the domain classifier's
    where the run's data has labels and its files are here, else its critic's
    penultimate layer (a critic that reads one sample at a time, not packs or pairs);
    None for points (their distance is the loss) or when neither is at hand."""
    from gan_cli.config import build
    from gan_cli.config.compose import metrics_settings
    from gan_cli.losses.joint import CRITIC
    from gan_cli.metrics.domain_classifier import for_data

    cfg = OmegaConf.create(state["config"])
    shape = build.sample_shape(cfg)
    if len(shape) != 3:
        return None
    labelled = data is not None and getattr(data, "labels", None) is not None
    if labelled and getattr(data, "digits", None) is None:  # (Stacked MNIST: digits)
        net = for_data(data, metrics_settings(cfg).classifier_steps).net
        return Features(net.features, net, "the domain classifier's features")
    on_pairs = bool(get_class(cfg.loss.objective._target_).networks)
    if cfg.loss.pack > 1 or on_pairs or CRITIC not in state:
        return None
    n_classes = len(state["classes"]["names"]) if "classes" in state else 0
    D = build.loss_part(cfg, "constraint").prepare(build.critic(cfg, shape, n_classes))
    D.load_state_dict(state[CRITIC])
    D = D.to(device).eval()
    if not hasattr(D, "features"):
        return None
    return Features(D.features, D, "the critic's penultimate features")


@dataclass(frozen=True)
class Projection:
    """What projection found for N targets: latents z (N, z_dim), classes y (N,) (None:
    unconditional), the reconstructions G(z) x (N, ...), each target's `distance` to its
    reconstruction (images: the mean absolute pixel error, in the data's [-1, 1]; points:
    the Euclidean distance) and, with `record` frames, the reconstructions of the first
    targets as the optimisation went (frames, record, ...)."""

    z: Tensor
    y: Tensor | None
    x: Tensor
    distance: Tensor
    frames: Tensor | None = None


def distance(a: Tensor, b: Tensor) -> Tensor:
    """Projection's distance between samples a, b (N, ...): images (4-d) the mean
    absolute pixel error, points the Euclidean distance -> (N,)."""
    diff = (a - b).flatten(1)
    return diff.abs().mean(1) if a.dim() == 4 else diff.norm(dim=1)


def typical_norms(z_dim: int, mass: float = TYPICAL) -> tuple[float, float]:
    """The central `mass` of the norm of a standard normal latent in z_dim dimensions
    (the chi distribution): its (lower, upper) quantiles."""
    from scipy.special import gammaincinv

    tail = (1 - mass) / 2
    return tuple(math.sqrt(2 * gammaincinv(z_dim / 2, q)) for q in (tail, 1 - tail))


def project(
    G: nn.Module,
    targets: Tensor,
    *,
    steps: int = STEPS,
    starts: int = STARTS,
    seed: int = 0,
    features: Features | None = None,
    classes: Tensor | int | None = None,
    n_classes: int = 0,
    lr: float = LR,
    batch: int = 64,
    record: int = 0,
    frames: int = 60,
) -> Projection:
    """Project `targets` (N, ...) in data space on G's range (module docstring).

    A conditional generator (`n_classes` > 0) takes `classes`: one class for every
    target, one per target (N,), or None to search them among all classes at the start.
    `record` > 0 keeps the reconstructions of the first `record` targets at `frames`
    evenly spaced steps. G is put in eval mode; its weights are left unchanged."""
    device = targets.device
    G.eval()
    # every target's starts, from a stream of their own: samples drawn with the same seed
    # (gan-sample seed=0's latents) are not among them, to be found at once
    stream = int(np.random.SeedSequence([seed, STREAM]).generate_state(1, np.uint64)[0] >> 1)
    rng = torch.Generator(device=device).manual_seed(stream)
    pool = torch.randn(starts, G.z_dim, generator=rng, device=device)
    norms = typical_norms(G.z_dim)
    given = _given(classes, len(targets), n_classes, device)
    parts, kept = [], []
    frozen = [G] if features is None else [G, features.network]
    with _frozen(*frozen), phase("projection", len(targets), "targets") as done:
        for first in range(0, len(targets), batch):
            loss = _Loss(targets[first : first + batch], features)
            y = None if given is None else given[first : first + batch]
            keep = max(0, min(record, len(targets)) - first)
            z, y, x, shots = _batch(G, loss, pool, y, n_classes, steps, lr, norms, keep, frames)
            parts.append((z, y, x))
            if shots is not None:
                kept.append(shots)
            done(len(loss.targets))
    z, y, x = (None if p[0] is None else torch.cat(p) for p in zip(*parts, strict=True))
    shots = torch.cat(kept, 1) if kept else None
    return Projection(z, y, x, distance(x, targets), shots)


@contextmanager
def _frozen(*networks: nn.Module):
    """The networks' parameters without gradients while projecting, as they were after."""
    wanted = [p for net in networks for p in net.parameters() if p.requires_grad]
    for p in wanted:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in wanted:
            p.requires_grad_(True)


def _given(classes, n: int, n_classes: int, device) -> Tensor | None:
    if n_classes == 0 or classes is None:
        return None
    y = torch.as_tensor(classes, dtype=torch.long, device=device)
    return y.expand(n).clone() if y.dim() == 0 else y


class _Loss:
    """The projection loss against `targets`, each target's own: the mean squared error
    in data space plus FEATURE_WEIGHT times that in `features`, measured in the target's
    mean squared feature (so that it weighs about as much as the pixels', whatever the
    network)."""

    def __init__(self, targets: Tensor, features: Features | None, wanted=None) -> None:
        self.targets, self.features, self.wanted = targets, features, wanted
        if features is not None and wanted is None:  # the targets' features, read once
            with torch.no_grad():
                self.wanted = features.read(targets)
        if self.wanted is not None:
            self.scale = self.wanted.pow(2).mean(1).clamp_min(1e-8)

    def repeated(self, k: int) -> _Loss:
        """The same loss with each target k times in a row (its starts side by side)."""
        wanted = None if self.wanted is None else self.wanted.repeat_interleave(k, 0)
        return _Loss(self.targets.repeat_interleave(k, 0), self.features, wanted)

    def __call__(self, x: Tensor) -> Tensor:
        """Reconstructions x (N, ...) of the N targets -> each one's loss (N,)."""
        value = (x - self.targets).pow(2).flatten(1).mean(1)
        if self.wanted is not None:
            f = self.features.read(x)
            value = value + FEATURE_WEIGHT * (f - self.wanted).pow(2).mean(1) / self.scale
        return value

    @torch.no_grad()
    def matrix(self, x: Tensor) -> Tensor:
        """Candidates x (M, ...) -> the loss of each against each target (N, M)."""
        value = _squared(self.targets.flatten(1), x.flatten(1))
        if self.wanted is not None:
            f = self.features.read(x)
            value = value + FEATURE_WEIGHT * _squared(self.wanted, f) / self.scale[:, None]
        return value


def _squared(a: Tensor, b: Tensor) -> Tensor:
    """The mean squared difference of every row of a (N, D) with every row of b (M, D)."""
    return torch.cdist(a.double(), b.double()).pow(2).float() / a.shape[1]


def _batch(G, loss: _Loss, pool, y, n_classes: int, steps, lr, norms, keep: int, frames):
    """One batch of targets: each one's TRIES best starts optimised side by side, and
    the best result kept -> (z, y, x, the first `keep` targets' frames or None)."""
    z, y = _starts(G, loss, pool, y, n_classes, TRIES)
    n, tries = z.shape[:2]
    y = None if y is None else y.flatten()
    z, value, shots = _optimise(
        G, z.flatten(0, 1), y, loss.repeated(tries), steps, lr, norms, keep * tries, frames
    )
    pick = value.view(n, tries).argmin(1) + tries * torch.arange(n, device=z.device)
    z, y = z[pick], None if y is None else y[pick]
    with torch.no_grad():
        x = generate(G, z, y)
    return z, y, x, None if shots is None else shots[:, pick[:keep]]


@torch.no_grad()
def _starts(G, loss: _Loss, pool: Tensor, y: Tensor | None, n_classes: int, k: int):
    """Each target's best k starts among the latents of `pool` (for a conditional G
    without given classes y, with every class): (z (N, k, z_dim), y (N, k) or None)."""
    tried = [None] if n_classes == 0 else y.unique().tolist() if y is not None else range(n_classes)
    values, latents, labels = [], [], []
    for c in tried:
        for z in pool.split(CANDIDATES):
            y_c = None if c is None else torch.full((len(z),), c, device=z.device)
            value = loss.matrix(generate(G, z, y_c))
            if y is not None:  # each target tries its own class only
                value[y != c] = math.inf
            values.append(value)
            latents.append(z)
            labels.append(y_c)
    best = torch.cat(values, 1).topk(min(k, len(pool) * len(tried)), 1, largest=False).indices
    z = torch.cat(latents)[best]
    return z, None if n_classes == 0 else torch.cat(labels)[best]


def _optimise(G, z0: Tensor, y, loss: _Loss, steps: int, lr: float, norms, keep: int, frames: int):
    """Adam on the latents from z0 for `steps` steps (module docstring) -> (the latents
    of the lowest loss seen, that loss, the first `keep` latents' samples at `frames`
    steps (frames, keep, ...) or None)."""
    lo, hi = norms
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr, betas=(0.9, 0.999))
    best = torch.full((len(z0),), math.inf, device=z0.device)
    best_z = z0.clone()
    at = set(torch.linspace(0, steps, frames).round().long().tolist()) if keep else set()
    shots = []
    for step in range(steps + 1):
        x = generate(G, z, y)
        value = loss(x)
        with torch.no_grad():
            better = value < best
            best = torch.where(better, value, best)
            best_z[better] = z[better]
            if step in at:
                shots.append(x[:keep].detach().clone())
        if step == steps:
            break
        for group in opt.param_groups:
            group["lr"] = lr * _ramp((step + 1) / steps)
        opt.zero_grad(set_to_none=True)
        value.sum().backward()
        opt.step()
        with torch.no_grad():  # back into the typical set
            norm = z.norm(dim=1, keepdim=True).clamp_min(1e-12)
            z.mul_(norm.clamp(lo, hi) / norm)
    return best_z, best, torch.stack(shots) if shots else None


def _ramp(t: float) -> float:
    """The learning rate's factor at fraction t of the steps: a linear warm-up over the
    first WARMUP, then a cosine down to zero (stylegan2-ada's projector)."""
    return min(1.0, t / WARMUP) * 0.5 * (1 + math.cos(math.pi * t))


# --- what gan-sample project=PATH writes ---------------------------------------------------

SHOWN = 16  # targets projected.png shows; the video shows the first 8


def write(
    out: Path, targets: Tensor, found: Projection, names: list[str], features: str
) -> list[str]:
    """projected.npz (z, y for a conditional generator, x: the reconstructions, target,
    distance, name) and projected.png; the names written, for gan-sample's line."""
    from gan_cli.trained.sampling import save_npz

    arrays = {"z": found.z, "x": found.x, "target": targets, "distance": found.distance}
    arrays = {k: v.detach().float().cpu().numpy() for k, v in arrays.items()}
    if found.y is not None:
        arrays["y"] = found.y.cpu().numpy()
    save_npz(out / "projected.npz", **arrays, name=np.array(names))
    _figure(out / "projected.png", targets, found, features)
    median = found.distance.median().item()
    unit = "mean pixel error" if targets.dim() == 4 else "distance"
    return [f"projected.npz, projected.png ({len(targets)} targets, median {unit} {median:.4g})"]


def write_video(path: Path, targets: Tensor, found: Projection, fps: int) -> str:
    """The optimisation as it went (`found.frames`) as a GIF: images, each recorded
    target beside its reconstruction a frame; points, the reconstructions' paths to
    their targets."""
    from gan_cli.trained.video import write_video as gif

    shots = found.frames
    k = shots.shape[1]
    if shots.dim() == 5:  # (frames, 2K, C, H, W): target, reconstruction, target, ...
        shown = targets[:k].cpu().expand(len(shots), *shots.shape[1:])
        shots = torch.stack([shown, shots.cpu()], 2).flatten(1, 2)
        frames, _ = gif(path, shots, fps)
    else:
        frames, _ = gif(path, shots.cpu(), fps, targets[:k].cpu())
    return f"{path.name} ({frames} frames of {k} targets)"


def _figure(path: Path, targets: Tensor, found: Projection, features: str) -> None:
    import torchvision

    from gan_cli.core.atomic import atomic_write
    from gan_cli.core.plotting import pyplot

    plt = pyplot()
    n = min(SHOWN, len(targets))
    median = found.distance.median().item()
    if targets.dim() == 4:
        pairs = torch.stack([targets[:n].cpu(), found.x[:n].cpu()], 1).float() * 0.5 + 0.5
        tiles = torch.stack([torchvision.utils.make_grid(p, nrow=2, padding=1) for p in pairs])
        grid = torchvision.utils.make_grid(tiles, nrow=4, padding=6, pad_value=1)  # white gaps
        fig, ax = plt.subplots(figsize=(8, 8 * grid.shape[1] / grid.shape[2] + 0.5), dpi=100)
        ax.imshow(grid.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_axis_off()
        about = "each target (left) beside its projection (right)"
        about += f"; median mean pixel error {median:.3g}"
    else:
        t, x = targets.cpu(), found.x.cpu()
        fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
        for a, b in zip(t, x, strict=True):
            ax.plot([a[0], b[0]], [a[1], b[1]], "-", color="grey", lw=0.6)
        ax.plot(t[:, 0], t[:, 1], "x", color="darkorange", ms=5, label="target")
        ax.plot(x[:, 0], x[:, 1], "o", color="green", ms=3, label="projection")
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=8)
        about = f"{len(t)} targets and their projections; median distance {median:.3g}"
    space = f"; loss: pixels and {features}" if features else ""
    ax.set_title(f"{about}{space}", fontsize=8)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png")
    plt.close(fig)
