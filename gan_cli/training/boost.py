"""`gan-train +boost=adagan boost.rounds=T`: AdaGAN (Tolstikhin et al. 2017), T full
trainings of the chosen preset, each on the training set reweighted towards what the
mixture of the earlier ones misses (gan_cli.training.mixture).

One run folder: round_01/, round_02/, ... each a run folder of its own (its config,
metrics.jsonl, checkpoints, samples, W&B run, in the W&B group of the whole run); and
at the top the whole run's config.yaml and the mixture: metrics.jsonl (its metrics
after each round, `step` = the round), samples/round_NN.png, and checkpoints/last.pt,
one checkpoint that gan-sample samples (each sample from a component drawn by the
mixture weights). Round 1 is the plain run
of the preset (same seed, same data stream); round t trains with seed + t - 1.

`trainer.resume=auto` continues an interrupted AdaGAN at its round and step: the rounds
the top checkpoint records are kept, and the next round resumes from its own checkpoint.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from gan_cli import metrics
from gan_cli.core.atomic import atomic_write
from gan_cli.core.errors import UserError
from gan_cli.data.base import IMAGES
from gan_cli.losses import Objective
from gan_cli.models import dcgan, mlp
from gan_cli.tracking.tracker import Continued, Tracker
from gan_cli.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from gan_cli.training.figures import FIGURES
from gan_cli.training.mixture import (
    Mixture,
    add_component,
    density_ratios,
    mixture_beta,
    theory_star,
)

log = logging.getLogger(__name__)
CLASSIFIER_BATCH = 256


@dataclass(frozen=True)
class Builders:
    """What AdaGAN asks of the layers above it: one run of the preset into a folder, with
    data weights (gan_cli.cli.launch.fit_round); the data and a generator a config describes
    (gan_cli.config.build); the W&B labels of this job (gan_cli.cli.sweep.job_labels)."""

    train: Callable[[DictConfig, Path, torch.Tensor | None], dict[str, float]]
    data: Callable[[DictConfig, torch.device], Any]
    generator: Callable[[DictConfig], nn.Module]
    labels: Callable[[dict[str, Any]], dict[str, Any]]


def boost(cfg: DictConfig, run_dir: Path, device: torch.device, build: Builders) -> dict:
    """Run the rounds of a checked config with `boost` on `device`; returns the mixture's
    last metrics."""
    rounds, beta = cfg.boost.rounds, cfg.boost.beta
    state = _resumed(cfg, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(run_dir / "config.yaml", "w") as f:  # the config as run, boost included
        f.write(OmegaConf.to_yaml(cfg))
    done = state["round"] if state else 0
    components = state["mixture"]["components"] if state else []
    weights = state["mixture"]["weights"] if state else []
    data_weights = state["data_weights"] if state else None
    wandb_id = state.get("wandb_id") if state else None
    data = build.data(cfg, device)
    if done and data_weights is None:  # a finished run given more rounds
        mixture = _mixture(cfg, build, components, weights, device)
        data_weights = _reweight(cfg, data, mixture, mixture_beta(done + 1, beta), done)
    final: dict[str, float] = {}
    for t in range(done + 1, rounds + 1):
        log.info("AdaGAN round %d of %d", t, rounds)
        round_cfg = _round_config(cfg, t, run_dir)
        build.train(round_cfg, run_dir / f"round_{t:02d}", data_weights)
        component = _component(run_dir / f"round_{t:02d}")
        components.append(component)
        weights = add_component(weights, mixture_beta(t, beta))
        mixture = _mixture(cfg, build, components, weights, device)
        final = _evaluate(cfg, data, mixture) | {"boost/round": t, "boost/beta": weights[-1]}
        figure = _figure(cfg, data, mixture, run_dir, t)
        if t < rounds:  # the weights of round t + 1's training set
            data_weights = _reweight(cfg, data, mixture, mixture_beta(t + 1, beta), t)
            final["boost/ignored_fraction"] = float((data_weights == 0).double().mean())
        wandb_id = _log(cfg, build, run_dir, final, t, wandb_id, figure)
        state = {
            "config": OmegaConf.to_container(cfg),
            "step": t,
            "round": t,
            "generator": component,  # the last component: what gan-sample reads first
            "mixture": {"components": components, "weights": weights},
            "data_weights": data_weights,
            "wandb_id": wandb_id,
        }
        save_checkpoint(state, run_dir / "checkpoints" / "last.pt")
    return final


def _resumed(cfg: DictConfig, run_dir: Path) -> dict[str, Any] | None:
    """The top checkpoint to continue (trainer.resume=auto or a path), or None."""
    resume = cfg.trainer.resume
    if resume is None:
        return None
    if resume == "auto":
        found = latest_checkpoint(run_dir)
        return found[1] if found and "mixture" in found[1] else None
    state = load_checkpoint(Path(resume))
    if "mixture" not in state:
        raise UserError(f"trainer.resume={resume} is not an AdaGAN checkpoint (+boost=adagan)")
    return state


def _round_config(cfg: DictConfig, t: int, run_dir: Path) -> DictConfig:
    """Round t's config: the preset's, without `boost`, with seed + t - 1, resumed from
    its own folder when the whole run resumes, in the W&B group of the whole run."""
    plain = copy.deepcopy(OmegaConf.to_container(cfg))
    plain.pop("boost")
    plain["trainer"]["seed"] = cfg.trainer.seed + t - 1
    plain["trainer"]["resume"] = "auto" if cfg.trainer.resume is not None else None
    plain["logger"]["group"] = plain["logger"]["group"] or run_dir.name
    return OmegaConf.create(plain)


def _component(round_dir: Path) -> dict[str, torch.Tensor]:
    """The generator weights of a finished round (its averaged ones where kept)."""
    state = load_checkpoint(round_dir / "checkpoints" / "last.pt")
    return state.get("generator_ema", state["generator"])


def _mixture(cfg: DictConfig, build: Builders, components: list, weights: list[float], device):
    """The mixture of the components' generators (built from the config), on `device`."""
    generators = []
    for weights_of in components:
        G = build.generator(cfg)
        G.load_state_dict(weights_of)
        generators.append(G.eval())
    return Mixture(generators, weights, seed=cfg.trainer.seed).to(device)


def _evaluate(cfg: DictConfig, data, mixture: Mixture) -> dict[str, float]:
    """The run's metrics that need no critic (modes, exact W1, image metrics) on the
    mixture, against the held-out data, from the evaluation's own seeded noise."""
    objective = Objective()  # no critic estimate, no third network
    chosen = [
        m
        for m in metrics.selected(cfg.metrics, data.kind)
        if metrics.applies(m, data, objective, False)
    ]
    heldout = data.heldout
    rng = torch.Generator(device=heldout.device).manual_seed(cfg.trainer.seed)
    with torch.no_grad():
        z = torch.randn(len(heldout), mixture.z_dim, generator=rng, device=heldout.device)
        fake = metrics.chunked(mixture, z)
        ev = metrics.Evaluation(
            mixture, None, objective, data, fake, rng, cfg.metrics, cfg.trainer.seed
        )
        out: dict[str, float] = {}
        for metric in chosen:
            out.update(metric.compute(ev))
    return out


def _reweight(cfg: DictConfig, data, mixture: Mixture, beta: float, t: int) -> torch.Tensor:
    """The next round's example weights: a classifier of data against the mixture gives
    each example's density ratio h, and theory_star its weight."""
    examples = data.examples()
    classifier = _classifier(data.kind, data.shape).to(examples.device)
    device = examples.device

    def draw(n: int) -> torch.Tensor:
        return mixture(torch.randn(n, mixture.z_dim, device=device))

    h = density_ratios(
        examples,
        draw,
        classifier,
        cfg.boost.classifier_steps,
        CLASSIFIER_BATCH,
        cfg.trainer.seed + t,
    )
    return theory_star(h, beta)


class _Logits(nn.Module):
    """A binary classifier's raw logits (B,) from a network with one output."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def _classifier(kind: str, shape: tuple[int, ...]) -> nn.Module:
    """The data-against-mixture classifier: DCGAN's discriminator (32 channels) for 32x32
    and 64x64 images, else an MLP of two hidden layers of 128 units."""
    if kind == IMAGES and dcgan.fits(shape):
        return _Logits(dcgan.Discriminator(shape, d_channels=32))
    return _Logits(mlp.Discriminator(shape, hidden_dim=128, n_layers=2))


def _figure(cfg: DictConfig, data, mixture: Mixture, run_dir: Path, t: int) -> Path:
    """samples/round_NN.png: the mixture's samples, as the data's figure draws them."""
    figure = FIGURES[data.kind]
    path = run_dir / "samples" / f"round_{t:02d}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = torch.Generator(device=data.heldout.device).manual_seed(cfg.trainer.seed)
    with torch.no_grad():
        z = torch.randn(figure.n, mixture.z_dim, generator=rng, device=data.heldout.device)
        figure.draw(path, mixture(z), data.heldout[: figure.n], None, f"mixture of {t}")
    return path


def _log(cfg, build: Builders, run_dir: Path, scalars: dict, t: int, wandb_id, figure: Path):
    """The mixture's scalars after round t to the top metrics.jsonl and the run's W&B run
    (continued round after round; what a run in the folder before it left is dropped);
    its W&B id."""
    continued = Continued(t - 1, wandb_id, run_dir / "metrics.jsonl")
    config = OmegaConf.to_container(cfg)
    tracker = Tracker(run_dir, build.labels(config["logger"]), config, continued)
    try:
        tracker.log(scalars, t, {"samples": figure})
        return tracker.wandb_id
    finally:
        tracker.finish()
