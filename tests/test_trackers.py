"""TensorBoard and MLflow, read back through their own readers: every scalar of
metrics.jsonl at its steps, the sample images, the config; a resumed run continues the
same TensorBoard folder and MLflow run with each step once; parallel sweep jobs share
one MLflow database."""

from __future__ import annotations

import math

import pytest

from gan_cli.cli import gan_train as train
from gan_cli.config.spec import check
from gan_cli.core.errors import UserError
from tests.helpers import CADENCE, compose, gan_train, jsonl

RUN = [*CADENCE, "loss=vanilla", "hydra.run.dir=run"]


def _scalars(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """metrics.jsonl as {scalar: [(step, value), ...]} (numbers only)."""
    out: dict[str, list] = {}
    for row in rows:
        for key, value in row.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                out.setdefault(key, []).append((row["step"], float(value)))
    return out


def _tensorboard(run):
    """TensorBoard's own reader of the run's events (imported here: collecting this
    module on each worker should not pay MLflow's and TensorBoard's imports)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    every = {"scalars": 0, "images": 0, "tensors": 0}
    return EventAccumulator(str(run / "tensorboard"), size_guidance=every).Reload()


def _same(got: list[tuple[int, float]], expected: list[tuple[int, float]], key: str) -> None:
    assert [s for s, _ in got] == [s for s, _ in expected], key
    for (_, a), (_, b) in zip(got, expected, strict=True):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-12) or (math.isnan(a) and math.isnan(b)), key


def history_of(client, run, key: str) -> list:
    return client.get_metric_history(run.info.run_id, key)


def _mlflow(folder):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")


def test_tensorboard_and_mlflow_hold_what_metrics_jsonl_holds(workdir, in_process):
    args = [*RUN, "trainer.steps=20", "logger=[tensorboard,mlflow]"]
    result = in_process(train.main, *args, cwd=workdir)
    assert result.returncode == 0, result.stderr
    run = workdir / "run"
    expected = _scalars(jsonl(run / "metrics.jsonl"))
    assert not (run / "wandb").exists()  # W&B is not one of those chosen

    board = _tensorboard(run)
    for key, points in expected.items():
        _same([(e.step, e.value) for e in board.Scalars(key)], points, key)
    assert [e.step for e in board.Images("samples")] == [20]
    from tensorboard.util import tensor_util

    (text,) = board.Tensors("config/text_summary")
    assert "steps: 20" in tensor_util.make_ndarray(text.tensor_proto).item().decode()
    assert "_hparams_/session_start_info" in board.PluginTagToContent("hparams")  # HPARAMS tab

    client = _mlflow(workdir)
    (found,) = client.search_runs([client.get_experiment_by_name("gan-cli").experiment_id])
    for key, points in expected.items():
        history = client.get_metric_history(found.info.run_id, key)
        _same([(m.step, m.value) for m in history], points, key)
    assert found.data.params["trainer.steps"] == "20"
    assert found.data.params["loss.objective._target_"].endswith("Minimax")
    assert found.info.status == "FINISHED"
    (images,) = client.list_artifacts(found.info.run_id, "samples/samples")
    assert images.path.endswith("step_0000020.png")


def test_a_resumed_run_continues_its_tensorboard_folder_and_mlflow_run(workdir, in_process):
    """Killed after logging steps 25 and 30 past its checkpoint at 20, then resumed from
    it: TensorBoard and MLflow hold each step once, in one folder and one run."""
    trackers = "logger=[tensorboard,mlflow]"
    first = in_process(train.main, *RUN, "trainer.steps=30", trackers, cwd=workdir)
    assert first.returncode == 0, first.stderr
    checkpoint = workdir / "run" / "checkpoints" / "step_0000020.pt"
    resume = [f"trainer.resume={checkpoint}", "trainer.steps=40"]
    again = in_process(train.main, *RUN, *resume, trackers, cwd=workdir)
    assert again.returncode == 0, again.stderr
    expected = _scalars(jsonl(workdir / "run" / "metrics.jsonl"))
    assert [s for s, _ in expected["loss/d"]] == list(range(5, 41, 5))
    board = _tensorboard(workdir / "run")
    client = _mlflow(workdir)
    (found,) = client.search_runs([client.get_experiment_by_name("gan-cli").experiment_id])
    for key, points in expected.items():
        _same([(e.step, e.value) for e in board.Scalars(key)], points, key)
        history = sorted((m.step, m.value) for m in history_of(client, found, key))
        if key.startswith("time/"):  # MLflow keeps the first process's timings of 25 and 30
            assert [s for s, _ in history] == [s for s, _ in points], key
        else:  # the rest is what the resumed run computed again, exactly
            _same(history, points, key)


@pytest.mark.slow  # two processes that each start torch and MLflow
def test_parallel_sweep_jobs_log_into_one_mlflow_database(workdir):
    tiny = ["trainer.steps=3", "data.heldout_size=100", "trainer.log_every=1"]
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "loss.gp_lambda=1,10"]
    result = gan_train(*args, *tiny, "logger=mlflow", cwd=workdir)
    assert result.returncode == 0, result.stderr
    client = _mlflow(workdir)
    runs = client.search_runs([client.get_experiment_by_name("gan-cli").experiment_id])
    assert sorted(r.data.params["loss.gp_lambda"] for r in runs) == ["1.0", "10.0"]
    assert all(r.info.status == "FINISHED" and "loss/d" in r.data.metrics for r in runs)


def test_a_tracker_whose_package_is_missing_is_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    wanted = r"logger=mlflow needs the mlflow package: make install, or pip install -e '\.\["
    with pytest.raises(UserError, match=wanted):
        check(compose("logger=[wandb,mlflow]"))
    check(compose("logger=tensorboard"))  # the other one is there
