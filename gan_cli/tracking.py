"""Where the numbers go: `metrics.jsonl` in the run folder, and W&B when enabled.

One small interface (`log`, `log_image`, `finish`) so the loop never talks to W&B.
The W&B run lives in the run folder (`<run>/wandb/`), never in the current directory.
"""

from __future__ import annotations

import json
import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


def wandb_mode(mode: str | None) -> str:
    """The W&B mode to use: the configured one, else WANDB_MODE, else offline unless an
    API key is configured (WANDB_API_KEY or a netrc entry for the W&B host)."""
    if mode:
        return mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if _has_api_key() else "offline"


def _has_api_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


class Tracker:
    """Appends one JSON object per logged step to `metrics.jsonl` and mirrors it to W&B.

    `logger` holds the logger config as plain values (mode, project, entity, group, tags);
    mode `disabled` means no W&B at all. Call `finish()` in a `finally`.
    """

    def __init__(self, run_dir: Path, logger: dict[str, Any], config: dict[str, Any]) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.wandb_run = None
        mode = wandb_mode(logger.get("mode"))
        if mode != "disabled":
            import wandb  # imported only when used: it is slow to import

            self._wandb = wandb
            self.wandb_run = wandb.init(
                project=logger.get("project"),
                entity=logger.get("entity"),
                group=logger.get("group"),
                name=logger.get("name"),
                tags=list(logger.get("tags") or []),
                mode=mode,
                dir=str(self.run_dir),
                config=config,
                # W&B's console capture would fight the rich progress bar
                settings=wandb.Settings(console="off", quiet=True),
            )

    def log(self, metrics: dict[str, float], step: int) -> None:
        self._jsonl.write(json.dumps({"step": step, **metrics}) + "\n")
        self._jsonl.flush()
        if self.wandb_run is not None:
            self.wandb_run.log(metrics, step=step)

    def log_image(self, key: str, path: Path, step: int) -> None:
        if self.wandb_run is not None:
            self.wandb_run.log({key: self._wandb.Image(str(path))}, step=step)

    def finish(self, exit_code: int = 0) -> None:
        self._jsonl.close()
        if self.wandb_run is not None:
            self.wandb_run.finish(exit_code=exit_code)
