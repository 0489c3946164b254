"""Long runs: exact resume, preemption, checkpoints that survive kill -9, the divergence
guard, W&B failures, precision, compile and the EMA generator."""

from __future__ import annotations

import json
import os
import pickle
import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from gan_cli.cli import train
from gan_cli.cli.run import train as run_training
from gan_cli.constraints.gradient_penalty import GradientPenalty
from gan_cli.losses.minimax import Minimax
from gan_cli.models.mlp import Discriminator
from gan_cli.training import loop
from gan_cli.training.checkpoint import load_checkpoint
from tests.helpers import (
    BIN,
    clean_env,
    compose,
    gan_train,
    jsonl,
    run_in_process,
    wandb_records,
)

SLOW = pytest.mark.slow

# every cadence divides 20, so a run stopped at step 20 did what a longer one does there
CADENCE = [
    "trainer.log_every=5",
    "trainer.eval_every=10",
    "trainer.sample_every=20",
    "trainer.ckpt_every=10",
    "data.heldout_size=200",
    # a small network: these tests are about the mechanics, so steps should be cheap
    "model.hidden_dim=32",
    "data.batch_size=64",
]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    return {
        f"{net}.{k}": v for net in ("generator", "discriminator") for k, v in state[net].items()
    }


def _finite(state: dict) -> bool:
    nets = [state["generator"], state["discriminator"]]
    return all(bool(torch.isfinite(v).all()) for net in nets for v in net.values())


def _metrics(run: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock timings."""
    return [
        {k: v for k, v in r.items() if not k.startswith("time/")}
        for r in jsonl(run / "metrics.jsonl")
    ]


def _wandb_ids(run: Path) -> list[str]:
    """The run id of each W&B offline run in the folder, oldest first (from its records:
    two runs started in one second share a folder name but for a suffix)."""
    n = len(list((run / "wandb").glob("offline-run-*/run-*.wandb")))
    return [
        next(r.run.run_id for r in wandb_records(run, i) if r.WhichOneof("record_type") == "run")
        for i in range(n)
    ]


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "weights differ"
    assert _metrics(a) == _metrics(b)


@pytest.mark.parametrize("loss", ["wgan_gp", "vanilla"])
def test_resume_is_bit_exact(loss, workdir, in_process):
    """N steps, then a resume for N more, give the weights and metrics of 2N in one go;
    the W&B run and metrics.jsonl continue."""
    common = [f"loss={loss}", *CADENCE, "trainer.ema_decay=0.9"]
    straight = in_process(
        train.main, *common, "trainer.steps=40", "hydra.run.dir=straight", cwd=workdir
    )
    assert straight.returncode == 0, straight.stderr
    first = in_process(train.main, *common, "trainer.steps=20", "hydra.run.dir=split", cwd=workdir)
    assert first.returncode == 0, first.stderr
    # a resume in the same folder continues what it logged
    again = in_process(
        train.main,
        *common,
        "trainer.steps=40",
        "trainer.resume=auto",
        "hydra.run.dir=split",
        cwd=workdir,
    )
    assert again.returncode == 0, again.stderr
    _assert_same_run(workdir / "straight", workdir / "split")
    ema = [
        load_checkpoint(workdir / r / "checkpoints/last.pt")["generator_ema"]
        for r in ("straight", "split")
    ]
    assert all(torch.equal(ema[0][k], ema[1][k]) for k in ema[0])
    steps = [r["step"] for r in jsonl(workdir / "split" / "metrics.jsonl")]
    assert steps == sorted(set(steps)) and steps[-1] == 40
    ids = _wandb_ids(workdir / "split")
    assert len(ids) == 2 and ids[0] == ids[1], "the resumed W&B run must keep its id"
    resumed = [r for r in wandb_records(workdir / "split", index=1) if r.HasField("history")]
    logged = [r.history.step.num for r in resumed]
    assert logged and min(logged) > 20  # the second part logs the steps after its checkpoint


def test_resume_from_another_run_folder(workdir, in_process):
    """trainer.resume=RUN continues that run in a new folder: the metrics so far come
    along, the W&B run id too, and a step logged after the checkpoint is dropped."""
    common = [*CADENCE, "trainer.steps=20"]
    assert in_process(train.main, *common, "hydra.run.dir=a", cwd=workdir).returncode == 0
    with open(workdir / "a" / "metrics.jsonl", "a") as f:  # as if killed after logging step 25
        f.write(json.dumps({"step": 25, "loss/d": 1.0}) + "\n")
    run = in_process(
        train.main,
        *CADENCE,
        "trainer.steps=30",
        f"trainer.resume={workdir / 'a'}",
        "hydra.run.dir=b",
        cwd=workdir,
    )
    assert run.returncode == 0, run.stderr
    steps = [r["step"] for r in jsonl(workdir / "b" / "metrics.jsonl")]
    assert steps == [5, 10, 15, 20, 25, 30]
    assert jsonl(workdir / "b" / "metrics.jsonl")[4]["loss/d"] != 1.0
    assert _wandb_ids(workdir / "a") == _wandb_ids(workdir / "b")


def _wait_for_step(run: Path, step: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    path = run / "metrics.jsonl"
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if path.is_file() and any(r["step"] >= step for r in jsonl(path)):
            return
        time.sleep(0.1)
    raise AssertionError(f"step {step} never came")


def _as_at_a_terminal() -> None:
    # A command started in the background (`make test &`, some CI runners) inherits an
    # ignored SIGINT, and gan-train rightly leaves an ignored SIGINT ignored; the tests
    # send Ctrl-C as a user at a terminal would, so the command gets the default handler.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _popen_train(*args: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "gan-train"), *args],
        cwd=cwd,
        env=env or clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_at_a_terminal,
    )


# SIGINT (Ctrl-C) takes the same path as SIGTERM: the slow tests check it
@pytest.mark.parametrize("sig", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=SLOW)])
def test_a_signal_checkpoints_and_resume_auto_finishes(sig, workdir, in_process):
    common = [*CADENCE, "trainer.ckpt_every=0", "hydra.run.dir=run"]
    proc = _popen_train(*common, "trainer.steps=400", cwd=workdir)
    _wait_for_step(workdir / "run", 10, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    step = load_checkpoint(workdir / "run" / "checkpoints" / "last.pt")["step"]
    assert 10 <= step < 400
    assert f"stopped by {signal.Signals(sig).name} after step {step}" in err
    assert "trainer.resume=auto" in err
    # W&B was told and finished: the offline run holds its exit record
    records = wandb_records(workdir / "run")
    assert any(r.HasField("exit") for r in records)

    # on to 20 steps past the checkpoint (trainer.steps may change on a resume), on a
    # multiple of 20 where every cadence fires, as it would at the end of the 400
    end = f"trainer.steps={(step // 20 + 2) * 20}"
    resumed = in_process(train.main, *common, end, "trainer.resume=auto", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    steps = [r["step"] for r in jsonl(workdir / "run" / "metrics.jsonl")]
    assert steps == list(range(5, (step // 20 + 2) * 20 + 1, 5))
    if sig == signal.SIGTERM:  # and it is the run an uninterrupted one would have been
        straight = in_process(train.main, *common[:-1], end, "hydra.run.dir=straight", cwd=workdir)
        assert straight.returncode == 0
        _assert_same_run(workdir / "run", workdir / "straight")


def test_kill_9_while_writing_always_leaves_a_loadable_checkpoint(tmp_path):
    """A writer saving a 16 MB checkpoint in a loop, killed at random moments: what loads
    is always one whole save, its weights those of the step it records (each save's
    weights are a fixed integer tensor plus its step, so a file that mixed two saves, or
    held one save's step beside another's weights, would not give the base back)."""
    script = (
        "import sys, torch\n"
        "from gan_cli.training.checkpoint import save_checkpoint\n"
        "w = torch.randint(0, 1000, (2_000_000,), generator=torch.Generator().manual_seed(0))\n"
        "for step in range(10**9):\n"
        "    save_checkpoint({'step': step, 'w': w + step}, sys.argv[1])\n"
    )
    expected = torch.randint(0, 1000, (2_000_000,), generator=torch.Generator().manual_seed(0))
    path = tmp_path / "checkpoints" / "last.pt"
    rand = random.Random(0)
    last_step = -1
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", script, str(path)])
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rand.uniform(0.0, 0.5))
        proc.kill()
        proc.wait()
        state = load_checkpoint(path)
        assert torch.equal(state["w"] - state["step"], expected)
        last_step = state["step"]
    assert last_step >= 0


def test_kill_9_during_training_then_resume(workdir, in_process):
    common = [*CADENCE, "trainer.steps=100", "trainer.ckpt_every=1", "hydra.run.dir=run"]
    proc = _popen_train(*common, cwd=workdir)
    _wait_for_step(workdir / "run", 20, proc)
    time.sleep(random.Random(1).uniform(0, 0.5))
    proc.kill()
    proc.wait()
    step = load_checkpoint(workdir / "run" / "checkpoints" / "last.pt")["step"]
    assert step >= 19  # step 20 was logged, so step 19's checkpoint was written
    resumed = in_process(train.main, *common, "trainer.resume=auto", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    assert not list((workdir / "run" / "checkpoints").glob(".*.tmp"))


def test_keep_checkpoints_keeps_the_newest(workdir, in_process):
    run = in_process(
        train.main,
        *CADENCE,
        "trainer.steps=50",
        "trainer.keep_checkpoints=2",
        "hydra.run.dir=r",
        cwd=workdir,
    )
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in (workdir / "r" / "checkpoints").iterdir())
    assert names == ["last.pt", "step_0000040.pt", "step_0000050.pt"]


def _nan_at(calls: set[int], monkeypatch) -> None:
    """Make the critic's loss non-finite at these calls of Minimax.d_loss (1-based;
    with n_critic 1 the call number is the step)."""
    original = Minimax.d_loss
    count = {"n": 0}

    def d_loss(self, real_out, fake_out):
        count["n"] += 1
        loss = original(self, real_out, fake_out)
        return loss * float("nan") if count["n"] in calls else loss

    monkeypatch.setattr(Minimax, "d_loss", d_loss)


def test_nan_policy_stop(workdir, capsys, monkeypatch):
    _nan_at({23}, monkeypatch)
    args = ["loss=vanilla", *CADENCE, "trainer.steps=40", "hydra.run.dir=run"]
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 1
    line = next(x for x in output.splitlines() if "gan-train: error:" in x)
    assert "step 23: loss/d is nan" in line and "checkpoints/last.pt (step 20)" in line
    state = load_checkpoint(workdir / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 20 and _finite(state)
    exits = [r.exit for r in wandb_records(workdir / "run") if r.HasField("exit")]
    assert exits and exits[-1].exit_code != 0  # the W&B run is marked failed


def test_nan_policy_skip(workdir, capsys, monkeypatch):
    _nan_at({7, 8, 31}, monkeypatch)
    args = [
        "loss=vanilla",
        *CADENCE,
        "trainer.steps=40",
        "trainer.nan_policy=skip",
        "hydra.run.dir=run",
    ]
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 0, output
    skipped = {
        r["step"]: r["train/skipped_steps"] for r in jsonl(workdir / "run" / "metrics.jsonl")
    }
    assert skipped == {5: 0, 10: 2, 15: 2, 20: 2, 25: 2, 30: 2, 35: 3, 40: 3}
    assert _finite(load_checkpoint(workdir / "run" / "checkpoints" / "last.pt"))


def test_wandb_that_cannot_start_falls_back_to_offline(workdir):
    env = clean_env(
        WANDB_API_KEY="a" * 40, WANDB_BASE_URL="http://127.0.0.1:9", WANDB_INIT_TIMEOUT="3"
    )
    run = gan_train(
        *CADENCE, "trainer.steps=20", "logger.mode=online", "hydra.run.dir=r", cwd=workdir, env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("W&B could not start in online mode") == 1
    assert [r["step"] for r in jsonl(workdir / "r" / "metrics.jsonl")] == [5, 10, 15, 20]
    assert len(_wandb_ids(workdir / "r")) == 1  # the offline run, for `wandb sync` later


def test_wandb_that_cannot_start_at_all_leaves_metrics_jsonl(workdir, capsys, monkeypatch):
    import wandb

    def broken(**_):
        raise wandb.errors.CommError("no service")

    monkeypatch.setattr(wandb, "init", broken)
    args = [*CADENCE, "trainer.steps=20", "hydra.run.dir=r"]
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 0, output
    assert "metrics.jsonl only" in output
    assert [r["step"] for r in jsonl(workdir / "r" / "metrics.jsonl")] == [5, 10, 15, 20]


def _children(pid: int) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out += [int(proc.name), *_children(int(proc.name))]
    return out


def test_wandb_crashing_mid_run_does_not_stop_training(workdir):
    proc = _popen_train(*CADENCE, "trainer.steps=200", "hydra.run.dir=r", cwd=workdir)
    _wait_for_step(workdir / "r", 10, proc)
    services = [
        p for p in _children(proc.pid) if b"wandb" in Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    assert services, "no W&B service process found"
    for p in services:
        os.kill(p, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert (out + err).count("W&B failed") == 1
    assert [r["step"] for r in jsonl(workdir / "r" / "metrics.jsonl")] == list(range(5, 201, 5))


@pytest.mark.parametrize("preset", ["vanilla", "wgan", "wgan_gp", "sn", "fgan"])
def test_bf16_runs_every_loss(preset, tmp_path):
    cfg = compose(
        f"loss={preset}", "trainer.precision=bf16", *CADENCE, "trainer.steps=10", "logger=none"
    )
    metrics = run_training(cfg, tmp_path)
    assert all(
        v == v and abs(v) != float("inf") for k, v in metrics.items() if k.startswith("loss/")
    )


def test_gradient_penalty_under_bf16_matches_float32():
    torch.manual_seed(0)
    D = Discriminator(in_shape=(2,), hidden_dim=64, n_layers=2)
    real, fake = torch.randn(512, 2), torch.randn(512, 2) + 2
    gp = GradientPenalty(gp_lambda=10.0)
    torch.manual_seed(1)
    p32 = gp.penalty(D, real, fake)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        p16 = gp.penalty(D, real, fake)
    assert p16.dtype == torch.float32
    assert abs(p16.item() - p32.item()) <= 0.02 * p32.item()
    assert gp.double_backward


def test_ema_generator_is_the_average_of_the_weights(tmp_path, monkeypatch):
    """ema_0 = w_1, ema_t = d ema_{t-1} + (1 - d) w_t, computed here from every step's
    weights, equals the checkpoint's generator_ema; samples and evaluation use it."""
    snapshots = []
    original = loop.train_step

    def recording(gan, *args):
        out = original(gan, *args)
        snapshots.append({k: v.clone() for k, v in gan.generator.state_dict().items()})
        assert gan.sampler is gan.ema.module
        return out

    monkeypatch.setattr(loop, "train_step", recording)
    cfg = compose(
        "loss=vanilla", "trainer.ema_decay=0.8", *CADENCE, "trainer.steps=12", "logger=none"
    )
    run_training(cfg, tmp_path)
    expected = dict(snapshots[0])
    for weights in snapshots[1:]:
        expected = {k: 0.8 * expected[k] + 0.2 * weights[k] for k in expected}
    ema = load_checkpoint(tmp_path / "checkpoints" / "last.pt")["generator_ema"]
    for k in expected:
        torch.testing.assert_close(ema[k], expected[k])
    assert not torch.equal(ema["net.0.weight"], snapshots[-1]["net.0.weight"])


# the default suite runs one loss; the critic's extra steps (wgan_gp) and a third
# network trained through backward(inputs=...) (veegan) in the slow one
@pytest.mark.parametrize(
    "loss", [pytest.param("wgan_gp", marks=SLOW), pytest.param("veegan", marks=SLOW), "vanilla"]
)
def test_two_gloo_processes_train_one_run(loss, workdir):
    """torchrun with 2 CPU processes: the ranks' weights stay identical (also under the
    gradient penalty's double backward, and for each of a GAN on pairs' three networks),
    each rank draws its own data, and there is one run folder, one metrics.jsonl and one
    W&B run."""
    ranks = workdir / "ranks"
    worker = Path(__file__).with_name("ddp_worker.py")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(worker),
            f"loss={loss}",
            *CADENCE,
            "trainer.steps=20",
            "trainer.device=cpu",
        ],
        cwd=workdir,
        env=clean_env(GAN_TEST_RANKS=str(ranks), PYTHONPATH=str(worker.parents[1])),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (run_dir,) = (workdir / "outputs").glob("*/*")  # one run folder, rank 0's
    assert [r["step"] for r in jsonl(run_dir / "metrics.jsonl")] == [5, 10, 15, 20]
    assert len(_wandb_ids(run_dir)) == 1
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    r0, r1 = (torch.load(ranks / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for net in set(r0) - {"batch"}:
        for k in r0[net]:
            assert torch.equal(r0[net][k], r1[net][k]), f"{net}.{k} differs between ranks"
    saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert all(torch.equal(saved["generator"][k], r0["generator"][k]) for k in r0["generator"])
    assert len(saved["rng"]) == 2  # each rank's random streams, for an exact resume
    assert not torch.equal(r0["batch"], r1["batch"])  # each rank its own data


def test_resume_from_a_folder_without_checkpoints_is_one_line(workdir, capsys, monkeypatch):
    (workdir / "empty").mkdir()
    args = ["trainer.resume=empty", "hydra.run.dir=run"]
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 2
    assert "gan-train: error: trainer.resume=empty: a folder without checkpoints/last.pt" in output


def test_a_fresh_run_into_a_folder_holding_one_is_refused(workdir, capsys, monkeypatch):
    args = ["trainer.steps=4", *CADENCE, "logger=none", "hydra.run.dir=run"]
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 0, output
    before = (workdir / "run" / "metrics.jsonl").read_bytes()
    code, output = run_in_process(train.main, args, workdir, capsys, monkeypatch)
    assert code == 2
    assert f"gan-train: error: {workdir / 'run'} already holds a run (checkpoints/last.pt)" in (
        " ".join(output.split())
    )
    assert (workdir / "run" / "metrics.jsonl").read_bytes() == before  # nothing written over
    code, output = run_in_process(
        train.main, [*args, "trainer.steps=6", "trainer.resume=auto"], workdir, capsys, monkeypatch
    )
    assert code == 0, output


def test_a_preemption_crosses_processes():
    """A worker of a multiprocessing pool or of a joblib sweep hands its exception to the
    parent by pickling it: a Preempted that could not be unpickled killed the pool's result
    thread, and the parent then waited forever."""
    from gan_cli.training.preemption import Preempted

    sent = Preempted(signal.SIGTERM, 120, lambda *_: None)
    got = pickle.loads(pickle.dumps(sent))
    assert (got.signum, got.step, got.previous, str(got)) == (
        signal.SIGTERM,
        120,
        None,
        "stopped by SIGTERM after step 120",
    )


@pytest.mark.slow  # submitit's requeue; the signal tests cover the checkpoint and resume
def test_submitit_requeues_a_preempted_job_which_resumes(workdir):
    """SIGUSR2 (what SLURM sends a submitit job before preemption): the job checkpoints,
    submitit requeues it, and the requeued job resumes with trainer.resume=auto."""
    args = [
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.sweep.dir=sweep",
        "trainer.resume=auto",
        *CADENCE,
        "trainer.steps=200",
        "trainer.ckpt_every=0",
    ]
    proc = _popen_train(*args, cwd=workdir)
    deadline = time.time() + 180
    while not (jobs := sorted((workdir / "sweep").glob("*/metrics.jsonl"))):
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    run = jobs[0].parent
    _wait_for_step(run, 10, proc)
    tasks = [p for p in _children(proc.pid) if b"submitit.core._submit" in _cmdline(p)]
    assert len(tasks) == 1
    os.kill(tasks[0], signal.SIGUSR2)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    steps = [r["step"] for r in jsonl(run / "metrics.jsonl")]
    assert steps == list(range(5, 201, 5))
    log = (run / "train.log").read_text()  # both attempts of the job log there
    assert "Caught signal SIGUSR2" in log and "Requeued job" in log
    assert log.index("Requeued job") < log.index("resuming from")
    assert json.loads((run / "status.json").read_text())["status"] == "ok"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize(
    ("preset", "critic_compiled"),
    [pytest.param("wgan_gp", False, marks=pytest.mark.slow), ("vanilla", True)],
)
def test_compile_wraps_the_networks_where_it_helps(preset, critic_compiled, tmp_path, monkeypatch):
    """The generator is compiled; the critic too, unless its penalty needs a double
    backward. The compiled run computes what the eager one does."""
    seen = {}
    original = loop.train

    def keep(gan, *args, **kwargs):
        seen["forwards"] = gan.forwards
        return original(gan, *args, **kwargs)

    monkeypatch.setattr(loop, "train", keep)
    common = [f"loss={preset}", *CADENCE, "trainer.steps=5", "logger=none"]
    eager = run_training(compose(*common), tmp_path / "eager")
    compiled = run_training(compose(*common, "trainer.compile=true"), tmp_path / "compiled")
    nets = seen["forwards"]
    assert isinstance(nets.g, torch._dynamo.eval_frame.OptimizedModule)
    assert isinstance(nets.d, torch._dynamo.eval_frame.OptimizedModule) == critic_compiled
    for key in ("loss/d", "loss/g"):
        assert compiled[key] == pytest.approx(eager[key], rel=1e-3, abs=1e-4)


@pytest.mark.slow  # two submitit tasks; the gloo test covers two processes training one run
def test_submitit_tasks_train_one_run_together(workdir):
    """hydra.launcher.tasks_per_node=2: the job's two tasks are the ranks of one
    DistributedDataParallel run (as they would be across SLURM nodes)."""
    args = [
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.tasks_per_node=2",
        "hydra.sweep.dir=sweep",
        "trainer.device=cpu",
        *CADENCE,
        "trainer.steps=20",
    ]
    run = gan_train(*args, cwd=workdir)
    assert run.returncode == 0, run.stdout + run.stderr
    (job,) = [
        p
        for p in (workdir / "sweep").iterdir()
        if p.is_dir() and p.name != "wandb" and not p.name.startswith(".")
    ]
    assert "DistributedDataParallel over 2 processes on cpu" in (job / "train.log").read_text()
    assert [r["step"] for r in jsonl(job / "metrics.jsonl")] == [5, 10, 15, 20]
    assert len(_wandb_ids(job)) == 1
    assert len(load_checkpoint(job / "checkpoints" / "last.pt")["rng"]) == 2


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_device_auto_picks_cuda_then_mps_then_cpu(cuda, mps, expected, monkeypatch):
    from gan_cli.config.checks import resolve_device
    from gan_cli.core.errors import UserError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)
    if not cuda:
        with pytest.raises(UserError, match="trainer.device=cuda is not available"):
            resolve_device("cuda")


def test_the_printed_command_continues_the_same_run(workdir, in_process):
    """After Ctrl-C the tool prints the command that continues the run, with the run's
    own overrides: typed as printed, it trains the same GAN on to the end."""
    common = ["loss=vanilla", "data.distribution=grid25", *CADENCE, "trainer.steps=300"]
    proc = _popen_train(*common, "trainer.ckpt_every=0", "hydra.run.dir=run", cwd=workdir)
    _wait_for_step(workdir / "run", 10, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    line = next(x for x in err.splitlines() if "to continue: " in x)
    command = shlex.split(line.split("to continue: ", 1)[1])
    assert command[0] == "gan-train"
    assert {"loss=vanilla", "data.distribution=grid25", "trainer.resume=auto"} <= set(command)
    resumed = in_process(train.main, *command[1:], cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    config = yaml.safe_load((workdir / "run" / "config.yaml").read_text())
    assert config["data"]["distribution"] == "grid25"
    assert config["loss"]["objective"]["_target_"].endswith("Minimax")
    steps = [r["step"] for r in jsonl(workdir / "run" / "metrics.jsonl")]
    assert steps == list(range(5, 301, 5))


def test_a_resume_with_another_config_stops_and_changes_nothing(workdir, in_process):
    first = in_process(
        train.main, "loss=vanilla", *CADENCE, "trainer.steps=20", "hydra.run.dir=run", cwd=workdir
    )
    assert first.returncode == 0, first.stderr
    files = [".hydra/config.yaml", ".hydra/overrides.yaml", "config.yaml", "metrics.jsonl"]
    before = {f: (workdir / "run" / f).read_bytes() for f in files}
    # the defaults are wgan_gp: not the run the checkpoint holds
    other = in_process(
        train.main,
        *CADENCE,
        "trainer.steps=40",
        "trainer.resume=auto",
        "hydra.run.dir=run",
        cwd=workdir,
    )
    lines = [x for x in (other.stdout + other.stderr).splitlines() if x.strip()]
    assert other.returncode == 2 and len(lines) == 1, lines
    assert "was trained with another config: loss.constraint._target_" in lines[0]
    assert "loss.objective._target_" in lines[0]
    assert {f: (workdir / "run" / f).read_bytes() for f in files} == before
    done = in_process(
        train.main,
        "loss=vanilla",
        *CADENCE,
        "trainer.steps=10",
        "trainer.resume=auto",
        "hydra.run.dir=run",
        cwd=workdir,
    )
    assert done.returncode == 2
    assert "is at step 20, trainer.steps is 10: raise trainer.steps" in done.stderr
    assert {f: (workdir / "run" / f).read_bytes() for f in files} == before


def test_steps_per_s_counts_training_steps_only(tmp_path, monkeypatch):
    """On a clock where a training step takes 10 ms and an evaluation 5 s, the rate is
    100 steps a second whether the run evaluates every step or never, and each
    evaluation's seconds are logged beside it."""
    now = {"t": 0.0}
    monkeypatch.setattr(loop.time, "perf_counter", lambda: now["t"])
    step, evaluate = loop.train_step, loop.evaluate

    def slow_step(*args):
        now["t"] += 0.01
        return step(*args)

    def slow_evaluation(*args):
        now["t"] += 5.0
        return evaluate(*args)

    monkeypatch.setattr(loop, "train_step", slow_step)
    monkeypatch.setattr(loop, "evaluate", slow_evaluation)
    common = [*CADENCE, "trainer.steps=20", "trainer.log_every=5", "logger=none"]
    for every in (1, 0):
        run_training(compose(*common, f"trainer.eval_every={every}"), tmp_path / str(every))
    rates = {
        every: [
            r["time/steps_per_s"]
            for r in jsonl(tmp_path / str(every) / "metrics.jsonl")
            if "time/steps_per_s" in r
        ]
        for every in (1, 0)
    }
    assert rates[1] == pytest.approx([100.0] * 4) and rates[0] == pytest.approx([100.0] * 4)
    evaluated = [r for r in jsonl(tmp_path / "1" / "metrics.jsonl") if "time/eval_s" in r]
    assert [r["time/eval_s"] for r in evaluated] == pytest.approx([5.0] * 20)
