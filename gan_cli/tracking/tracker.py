"""Where the numbers go: `metrics.jsonl` in the run folder, and W&B when enabled.

One small interface (`log`, `finish`) so the loop never talks to W&B. A step's scalars
and images go to W&B in one `run.log` call: one history row a step, which W&B never
splits or drops.
The W&B run lives in the run folder (`<run>/wandb/`), never in the current directory.

W&B never stops training: if it cannot start, the run warns once and tries offline
mode, then goes on with `metrics.jsonl` alone; if it fails mid-run (its service
crashed, the disk is full), the run warns once and goes on with `metrics.jsonl`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import netrc
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gan_cli.core.atomic import atomic_write
from gan_cli.core.records import read_jsonl

log = logging.getLogger(__name__)


def wandb_mode(mode: str | None) -> str:
    """The W&B mode to use: the configured one, else WANDB_MODE, else offline unless an
    API key is configured (WANDB_API_KEY or a netrc entry for the W&B host)."""
    if mode:
        return mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if _has_api_key() else "offline"


def selected(logger: dict[str, Any]) -> set[str]:
    """The trackers a logger config turns on (beside metrics.jsonl): those its options
    mark in `trackers` (logger=[wandb,tensorboard] merges their marks), W&B only where its
    mode is not disabled; a config without `trackers` (an older run's) has W&B per mode."""
    marks = logger.get("trackers")
    names = {"wandb"} if marks is None else {name for name, on in marks.items() if on}
    if "wandb" in names and wandb_mode(logger.get("mode")) == "disabled":
        names.discard("wandb")
    return names


def _has_api_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


@dataclass(frozen=True)
class Continued:
    """A resumed run: the checkpoint's step, its W&B run id and the metrics logged so far."""

    step: int
    wandb_id: str | None
    metrics: Path  # the metrics.jsonl of the run the checkpoint came from
    mlflow_id: str | None = None


class Tracker:
    """Appends one JSON object per logged step to `metrics.jsonl` and mirrors it to W&B.

    `logger` holds the logger config as plain values (mode, project, entity, group, tags);
    mode `disabled` means no W&B at all. `continued` carries on a resumed run: the records
    up to its step are kept (later ones, logged after its checkpoint, are dropped, so no
    step appears twice) and the W&B run with its id continues. `latest` holds the latest
    value of every scalar so far. Call `finish()` in a `finally`.
    """

    def __init__(
        self,
        run_dir: Path,
        logger: dict[str, Any],
        config: dict[str, Any],
        continued: Continued | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "metrics.jsonl"
        self.latest: dict[str, Any] = {}
        if continued is not None:
            kept = [r for r in read_jsonl(continued.metrics) if r["step"] <= continued.step]
            with atomic_write(path, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in kept)
            for record in kept:
                self.latest.update({k: v for k, v in record.items() if k != "step"})
        self._jsonl = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self.wandb_run = None
        chosen = selected(logger)
        if "wandb" in chosen:
            import wandb  # imported only when used: it is slow to import

            self._wandb = wandb
            self.wandb_run = self._start(logger, config, wandb_mode(logger.get("mode")), continued)
        self.others = []  # TensorBoard, MLflow (gan_cli.tracking.backends)
        if chosen - {"wandb"}:
            from gan_cli.tracking.backends import MLflow, TensorBoard

            if "tensorboard" in chosen:
                step = continued.step if continued else None
                self._add(TensorBoard, self.run_dir, config, step)
            if "mlflow" in chosen:
                run_id = continued.mlflow_id if continued else None
                self._add(MLflow, logger, config, run_id, Path.cwd())

    def _add(self, kind, *args) -> None:
        try:
            self.others.append(kind(*args))
        except Exception as e:  # a tracker must never stop training
            log.warning("%s could not start (%s); going on without it", kind.name, _brief(e))

    def _start(self, logger: dict, config: dict, mode: str, continued: Continued | None):
        wandb = self._wandb
        run_id = continued.wandb_id if continued else None
        for attempt in dict.fromkeys([mode, "offline"]):
            try:
                return wandb.init(
                    project=logger.get("project"),
                    entity=logger.get("entity"),
                    group=logger.get("group"),
                    name=logger.get("name"),
                    tags=tags(logger.get("tags")),
                    mode=attempt,
                    dir=str(self.run_dir),
                    config=config,
                    id=run_id,
                    resume="allow" if run_id else None,
                    # W&B's console capture would fight the rich progress bar
                    settings=wandb.Settings(console="off", quiet=True),
                )
            except Exception as e:  # W&B must never stop training
                then = "trying offline" if attempt != "offline" else "metrics.jsonl only"
                log.warning("W&B could not start in %s mode (%s); %s", attempt, _brief(e), then)
        return None

    @property
    def wandb_id(self) -> str | None:
        return self.wandb_run.id if self.wandb_run is not None else None

    @property
    def mlflow_id(self) -> str | None:
        return next((t.run_id for t in self.others if t.name == "MLflow"), None)

    def log(self, metrics: dict[str, float], step: int, images: dict[str, Path] | None = None):
        """A step's scalars (to metrics.jsonl and W&B) and image files (to W&B)."""
        if metrics:
            self._jsonl.write(json.dumps({"step": step, **metrics}) + "\n")
            self._jsonl.flush()
            self.latest.update(metrics)

        def to_wandb(run) -> None:
            pictures = {k: self._wandb.Image(str(p)) for k, p in (images or {}).items()}
            run.log({**metrics, **pictures}, step=step)

        self._to_wandb(to_wandb)
        self._to_others(lambda t: t.log(metrics, step, images or {}))

    def alert(self, title: str, text: str, summary: dict[str, str]) -> None:
        """A finding of the doctor: a W&B alert (where the mode sends alerts) and the
        run's summary (`summary`, which offline runs keep too)."""

        def to_wandb(run) -> None:
            run.summary.update(summary)
            with contextlib.suppress(Exception):  # offline runs may refuse alerts
                run.alert(title=title, text=text, level=self._wandb.AlertLevel.WARN)

        self._to_wandb(to_wandb)

    def preempting(self) -> None:
        """Tell the trackers the run is being preempted and will resume."""
        self._to_wandb(lambda run: run.mark_preempting())
        self._to_others(lambda t: t.preempting())

    def finish(self, exit_code: int = 0) -> None:
        self._jsonl.close()
        self._to_wandb(lambda run: run.finish(exit_code=exit_code))
        self.wandb_run = None
        self._to_others(lambda t: t.finish(exit_code))
        self.others = []

    def _to_others(self, call) -> None:
        for tracker in list(self.others):
            try:
                call(tracker)
            except Exception as e:  # warn once, go on without it
                log.warning("%s failed (%s); going on without it", tracker.name, _brief(e))
                self.others.remove(tracker)

    def _to_wandb(self, call) -> None:
        if self.wandb_run is None:
            return
        try:
            call(self.wandb_run)
        except Exception as e:  # W&B must never stop training: warn once, go on without it
            log.warning("W&B failed (%s); metrics go on to metrics.jsonl only", _brief(e))
            self.wandb_run = None
            with contextlib.suppress(Exception):  # stop its service now, not noisily at exit
                self._wandb.teardown()


class NoTracker:
    """The tracker of ranks other than 0 in a distributed run: they record nothing."""

    latest: dict[str, Any] = {}
    wandb_id = None
    mlflow_id = None

    def log(self, metrics: dict[str, float], step: int, images: dict[str, Path] | None = None):
        pass

    def alert(self, title: str, text: str, summary: dict[str, str]) -> None:
        pass

    def preempting(self) -> None:
        pass

    def finish(self, exit_code: int = 0) -> None:
        pass


def tags(value: Any) -> list[str]:
    """logger.tags as W&B's list: a list as it is, one string as one tag (not its letters)."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(t) for t in value]


def _brief(e: BaseException) -> str:
    first = next((line.strip() for line in str(e).splitlines() if line.strip()), "")
    return f"{type(e).__name__}: {first}" if first else type(e).__name__
