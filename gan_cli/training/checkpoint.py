"""Checkpoints: what a run's state is (state_dicts, every random stream, the step and the
config as trained, all plain data), how it is restored, and the files.

Written to a temporary file in the same folder, flushed to disk and renamed over the
target, so a crash or a kill at any moment leaves either the old or the new file,
never a half-written one. Read back with `torch.load(weights_only=True)`: a
checkpoint cannot run code on load.
"""

from __future__ import annotations

import logging
import pickle
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gan_cli.core import atomic
from gan_cli.core.errors import UserError
from gan_cli.data.base import DataSource
from gan_cli.training import rng
from gan_cli.training.distributed import World

if TYPE_CHECKING:
    from gan_cli.training.context import Run
    from gan_cli.training.step import GAN, Guard

log = logging.getLogger(__name__)


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Atomically write `state` (tensors, state_dicts and plain data only) to `path`."""
    with atomic.atomic_write(path) as f:
        torch.save(state, f)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint; refuses pickled objects beyond plain data."""
    with warnings.catch_warnings():  # a refused file gets an error, not a warning as well
        warnings.simplefilter("ignore", UserWarning)
        return torch.load(path, map_location=map_location, weights_only=True)


def periodic_checkpoints(folder: Path) -> list[Path]:
    """The periodic checkpoints step_XXXXXXX.pt in a folder, oldest first."""
    return sorted(Path(folder).glob("step_*.pt"))


def prune(folder: Path, keep: int) -> None:
    """Delete all but the newest `keep` periodic checkpoints (keep 0: delete none)."""
    if keep > 0:
        for path in periodic_checkpoints(folder)[:-keep]:
            path.unlink(missing_ok=True)


def remove_partial_writes(folder: Path) -> None:
    """Remove temporary files a writer killed mid-save left behind (never a checkpoint)."""
    atomic.remove_partial_writes(folder, "*.pt")


def resume_candidates(run_dir: Path) -> list[Path]:
    """Where a run folder's newest state may be, best first: last.pt, then the periodic
    checkpoints from newest to oldest."""
    folder = Path(run_dir) / "checkpoints"
    return [folder / "last.pt", *reversed(periodic_checkpoints(folder))]


def find_checkpoint(path: str, key: str = "checkpoint") -> tuple[Path, Path | None]:
    """(checkpoint file, its run folder or None) for a file or a run folder; `key` names
    the option the path came from in errors."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{key}={path}: no such file or folder")
    if p.is_dir():
        last = p / "checkpoints" / "last.pt"
        if not last.is_file():
            raise UserError(f"{key}={path}: a folder without checkpoints/last.pt")
        return last, p
    run = p.parent.parent if p.parent.name == "checkpoints" else None
    return p, run


def read_checkpoint(path: Path, key: str = "checkpoint") -> dict[str, Any]:
    """The checkpoint's plain data; refuses anything else without running it."""
    try:
        state = load_checkpoint(path)
    except pickle.UnpicklingError as e:  # any pickle beyond tensors and plain data
        raise UserError(
            f"{key}={path} is not a checkpoint of tensors and plain data: refused by "
            "torch.load(weights_only=True), nothing in it ran"
        ) from e
    except Exception as e:  # truncated zip, not a zip, not a torch file, ...
        raise UserError(
            f"{key}={path} is not a readable checkpoint: truncated, corrupted or another "
            "kind of file"
        ) from e
    if not isinstance(state, dict) or not {"generator", "config"} <= set(state):
        raise UserError(f"{key}={path} is not a gan-train checkpoint (no generator/config)")
    return state


def latest_checkpoint(run_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable checkpoint of a run folder and its state, or None."""
    for path in resume_candidates(run_dir):
        if path.is_file():
            try:
                return path, read_checkpoint(path)
            except UserError:  # cannot happen to a file save_checkpoint wrote; try older
                continue
    return None


def checkpoint_state(
    gan: GAN,
    data: DataSource,
    step: int,
    eval_rng: torch.Generator,
    guard: Guard,
    run: Run,
) -> dict[str, Any] | None:
    """Everything a resumed run needs to go on exactly: each network's weights,
    optimizer and learning-rate schedule, the EMA, every random stream, the config as
    trained, the W&B run id, and a conditional GAN's class names and frequencies; None
    on ranks other than 0 (which only give their random streams: each rank draws its
    own)."""
    streams = {**rng.capture(), "data": data.state_dict(), "eval": eval_rng.get_state()}
    streams = run.world.gather(streams)
    if not run.world.is_main:
        return None
    state: dict[str, Any] = {"step": step, "config": run.config}
    for name, net in gan.networks.items():
        state[name] = net.module.state_dict()
        state[f"opt_{net.tag}"] = net.optimizer.state_dict()
    state |= {
        "rng": streams,
        "skipped_steps": guard.skipped,
        "critic_updates": gan.critic_updates,
        "schedules": [schedule.state_dict() for schedule in gan.schedules],
        "wandb_id": run.tracker.wandb_id,
        "mlflow_id": run.tracker.mlflow_id,
    }
    if gan.classes is not None:  # so gan-sample knows the classes without the data set
        state["classes"] = gan.classes.state()
    if gan.augment is not None:  # ADA's p and its running count
        state["augment"] = gan.augment.state_dict()
    if gan.ema is not None:
        state["generator_ema"] = gan.ema.module.state_dict()
        state["ema_averaged"] = gan.ema.n_averaged
    return state


def restore(
    state: dict[str, Any],
    gan: GAN,
    data: DataSource,
    eval_rng: torch.Generator,
    guard: Guard,
    world: World,
) -> int:
    """Load a checkpoint's state into the run; return its step."""
    for name, net in gan.networks.items():
        net.module.load_state_dict(state[name])
        net.optimizer.load_state_dict(state[f"opt_{net.tag}"])
    if gan.ema is not None and "generator_ema" in state:
        gan.ema.module.load_state_dict(state["generator_ema"])
        gan.ema.n_averaged.copy_(state["ema_averaged"])
    guard.skipped = state.get("skipped_steps", 0)
    gan.critic_updates = state.get("critic_updates", 0)
    if gan.augment is not None and "augment" in state:
        gan.augment.load_state_dict(state["augment"])
    for schedule, saved in zip(gan.schedules, state.get("schedules", []), strict=False):
        schedule.load_state_dict(saved)
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
