"""TensorBoard and MLflow beside W&B (`logger=tensorboard`, `logger=mlflow`, or several:
`logger=[wandb,tensorboard]`): the same scalar names at the same steps, the sample plots
as images, the resolved config (TensorBoard's hparams and a text; MLflow's params).

- TensorBoard: event files in `<run>/tensorboard/`. A resumed run writes to the same
  folder with `purge_step`, so readers drop what the earlier process logged after its
  checkpoint: every step once.
- MLflow: by default a SQLite database `mlflow.db` in the folder gan-train was started
  from, shared by every run and sweep job started there (`mlflow ui` in that folder shows
  them side by side); `logger.tracking_uri` points at a server instead. The first
  connection (which creates the tables) is made under a file lock, so parallel jobs
  never race to create them. A resumed run continues its MLflow run (its id is in the
  checkpoint) and skips the steps that run already holds.

Like W&B, a tracker that fails mid-run is warned about once and left behind: training
goes on.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import time
from pathlib import Path
from typing import Any

from gan_cli.core.values import flat as dotted
from gan_cli.core.values import is_number

log = logging.getLogger(__name__)

EXTRAS = {"tensorboard": "tensorboard", "mlflow": "mlflow"}  # tracker -> its package's extra


def flat(config: dict[str, Any]) -> dict[str, Any]:
    """A nested config as dotted keys (trainer.steps) with plain values."""
    plain = int | float | str | bool
    return {k: v if isinstance(v, plain) else str(v) for k, v in dotted(config).items()}


def numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if is_number(v)}


class TensorBoard:
    """Scalars, sample images and the config as TensorBoard events in <run>/tensorboard/."""

    name = "TensorBoard"

    def __init__(self, run_dir: Path, config: dict[str, Any], resumed_step: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        purge = None if resumed_step is None else resumed_step + 1
        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)
        if resumed_step is None:
            values = {k: v for k, v in flat(config).items() if v is not None}
            for summary in hparams(values, {}):  # the HPARAMS tab, in this run's folder
                self.writer.file_writer.add_summary(summary)
            self.writer.add_text("config", _yaml_block(config), 0)

    def log(self, metrics: dict[str, Any], step: int, images: dict[str, Path]) -> None:
        import numpy as np
        from PIL import Image

        for key, value in numbers(metrics).items():
            self.writer.add_scalar(key, value, step)
        for key, value in metrics.items():
            if isinstance(value, str):  # a class name, for instance
                self.writer.add_text(key, value, step)
        for key, path in images.items():
            pixels = np.asarray(Image.open(path).convert("RGB"))
            self.writer.add_image(key, pixels, step, dataformats="HWC")
        self.writer.flush()

    def preempting(self) -> None:
        self.writer.flush()

    def finish(self, exit_code: int) -> None:
        self.writer.close()


class MLflow:
    """Scalars, sample images (artifacts samples/<name>/) and the config (params) as one
    MLflow run in the experiment named `logger.project`."""

    name = "MLflow"

    def __init__(
        self, logger: dict[str, Any], config: dict[str, Any], run_id: str | None, launch: Path
    ) -> None:
        from mlflow.tracking import MlflowClient

        uri = logger.get("tracking_uri") or f"sqlite:///{(launch / 'mlflow.db').absolute()}"
        with _first_connection(launch, uri):
            self.client = MlflowClient(tracking_uri=uri)
            experiment = _experiment(self.client, logger.get("project") or "gan-cli")
        self.done = -1  # the last step the MLflow run holds: a resume skips up to it
        if run_id is not None:
            self.run_id = run_id
            self.done = self._last_step()
            self._retry(self.client.update_run, run_id, status="RUNNING")
            return
        tags = {f"tag.{t}": "" for t in logger.get("tags") or []}
        if logger.get("group"):
            tags["group"] = logger["group"]
        run = self._retry(
            self.client.create_run, experiment, run_name=logger.get("name"), tags=tags
        )
        self.run_id = run.info.run_id
        from mlflow.entities import Param

        params = [Param(k, str(v)[:6000]) for k, v in flat(config).items()]
        for start in range(0, len(params), 100):  # MLflow takes 100 params a call
            self._retry(self.client.log_batch, self.run_id, params=params[start : start + 100])

    def log(self, metrics: dict[str, Any], step: int, images: dict[str, Path]) -> None:
        from mlflow.entities import Metric

        if step <= self.done:  # logged before the checkpoint this run resumed from
            return
        now = int(time.time() * 1000)
        rows = [Metric(k, v, now, step) for k, v in numbers(metrics).items()]
        if rows:
            self._retry(self.client.log_batch, self.run_id, metrics=rows)
        for key, path in images.items():
            self._retry(self.client.log_artifact, self.run_id, str(path), f"samples/{key}")

    def preempting(self) -> None:
        self._retry(self.client.set_terminated, self.run_id, "KILLED")

    def finish(self, exit_code: int) -> None:
        status = "FINISHED" if exit_code == 0 else "FAILED"
        self._retry(self.client.set_terminated, self.run_id, status)

    def _last_step(self) -> int:
        run = self._retry(self.client.get_run, self.run_id)
        steps = [
            m.step
            for key in run.data.metrics
            for m in self._retry(self.client.get_metric_history, self.run_id, key)
        ]
        return max(steps, default=-1)

    @staticmethod
    def _retry(call, *args, **kwargs):
        """SQLite allows one writer at a time: a job that finds the database locked by
        another (MLflow's TEMPORARILY_UNAVAILABLE, around SQLAlchemy's OperationalError)
        waits and tries again; any other error is raised."""
        from mlflow.exceptions import MlflowException
        from sqlalchemy.exc import OperationalError

        for attempt in range(8):
            try:
                return call(*args, **kwargs)
            except (MlflowException, OperationalError) as e:
                busy = getattr(e, "error_code", BUSY) == BUSY
                if not busy or attempt == 7:
                    raise
                time.sleep(0.2 * 2**attempt)
        return None


BUSY = "TEMPORARILY_UNAVAILABLE"  # MLflow's error code for a database another job holds


def _experiment(client, name: str) -> str:
    """The id of the MLflow experiment `name`, created if no job has yet."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":  # not another job creating it first
            raise
        return client.get_experiment_by_name(name).experiment_id


@contextlib.contextmanager
def _first_connection(launch: Path, uri: str):
    """A file lock in the launch folder while a SQLite MLflow store is opened (and, the
    first time, created): parallel jobs create its tables once."""
    if not uri.startswith("sqlite:"):
        yield
        return
    with open(launch / ".mlflow.db.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _yaml_block(config: dict[str, Any]) -> str:
    import yaml

    text = io.StringIO()
    yaml.safe_dump(config, text, sort_keys=False)
    return "```\n" + text.getvalue() + "```"
