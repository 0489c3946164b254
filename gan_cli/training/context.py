"""What a run is besides what is trained and its data: its config, folder, tracker,
metrics and place among the processes. The loop reads it, and so does a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_cli import metrics
from gan_cli.tracking.tracker import NoTracker, Tracker
from gan_cli.training.distributed import World


@dataclass
class Run:
    """Everything the loop needs besides what is trained and the data."""

    cfg: DictConfig  # the resolved config as trained
    run_dir: Path
    tracker: Tracker | NoTracker
    metrics: list[metrics.Metric]  # what each evaluation computes
    world: World = field(default_factory=World)

    def __post_init__(self) -> None:
        self.trainer = self.cfg.trainer
        self.config = OmegaConf.to_container(self.cfg)  # as plain data, for checkpoints
