"""The `gan-train` command end to end, with W&B offline, as a user runs it."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_cli.cli.gan_train import main as train_main
from gan_cli.config.compose import INTERNAL_GROUPS, config_dir, config_groups
from gan_cli.training.checkpoint import load_checkpoint
from tests.helpers import BIN, gan_train, jsonl, wandb_history, wandb_records

SCALARS = [
    "loss/d",
    "loss/g",
    "wasserstein/critic",
    "wasserstein/heldout",
    "wasserstein/exact",
    "time/steps_per_s",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A few dozen steps of the default command, W&B offline by default (no API key)."""
    cwd = tmp_path_factory.mktemp("user")
    args = [
        "trainer.steps=30",
        "trainer.log_every=5",
        "trainer.eval_every=15",
        "trainer.sample_every=15",
        "trainer.ckpt_every=10",
        "data.heldout_size=500",
    ]
    result = gan_train(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (cwd / "outputs").glob("*/*")
    return cwd, run_dir, result


def test_run_folder_layout(run):
    cwd, run_dir, _ = run
    assert sorted(p.name for p in cwd.iterdir()) == ["outputs"]  # nothing else in the cwd
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        assert (run_dir / ".hydra" / name).is_file()
    assert (run_dir / "metrics.jsonl").is_file()
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert ckpts == ["last.pt", "step_0000010.pt", "step_0000020.pt", "step_0000030.pt"]
    log = (run_dir / "train.log").read_text()  # Hydra's log of the job: what it trained
    assert "training mlp on Toy2D (ring8, Wasserstein + GradientPenalty) for 30 steps" in log
    assert "finished step 30: " in log and "wasserstein/exact" in log
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [
        "step_0000015.png",
        "step_0000030.png",
    ]
    assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1


def test_metrics_jsonl_has_every_scalar(run):
    _, run_dir, _ = run
    rows = jsonl(run_dir / "metrics.jsonl")
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30]
    for key in SCALARS:
        values = [r[key] for r in rows if key in r]
        assert values and all(math.isfinite(v) for v in values), key
    assert [r["step"] for r in rows if "wasserstein/exact" in r] == [15, 30]


def test_wandb_offline_run_recorded_scalars_samples_and_config(run):
    _, run_dir, _ = run
    history = wandb_history(run_dir)
    local = jsonl(run_dir / "metrics.jsonl")
    for key in SCALARS:
        logged = {r["_step"]: r[key] for r in history if key in r}
        assert logged == {r["step"]: pytest.approx(r[key]) for r in local if key in r}, key
    images = [r for r in history if r.get("samples/_type") == "image-file"]
    assert [r["_step"] for r in images] == [15, 30]
    for row in images:
        assert (
            next((run_dir / "wandb").glob("offline-run-*")) / "files" / row["samples/path"]
        ).is_file()
    (run_record,) = [r.run for r in wandb_records(run_dir) if r.WhichOneof("record_type") == "run"]
    config = {item.key: json.loads(item.value_json) for item in run_record.config.update}
    assert config["data"]["distribution"] == "ring8"
    assert config["trainer"]["steps"] == 30
    assert config["loss"]["gp_lambda"] == 0.1  # the toy preset's lambda, as trained


def test_checkpoint_holds_plain_state_and_config(run):
    _, run_dir, _ = run
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")  # weights_only=True
    assert state["step"] == 30
    assert state["config"]["trainer"]["steps"] == 30
    assert set(state) >= {"generator", "discriminator", "opt_g", "opt_d"}
    assert all(isinstance(v, torch.Tensor) for v in state["generator"].values())


def test_console_shows_final_table_and_next_command(run):
    cwd, run_dir, result = run
    assert "final metrics" in result.stdout
    assert "wasserstein/exact" in result.stdout
    typed = run_dir.relative_to(cwd)  # as the user would type it, from where they ran it
    assert f"run folder: {typed}\n" in result.stdout
    assert f"gan-sample checkpoint={typed} n=64" in result.stdout.replace("\n", "")


def test_progress_without_a_terminal_is_a_line_every_evaluation(run):
    """A pipe gets lines, not a bar: the step, rate and time left at each evaluation
    (trainer.eval_every=15) and at the end, and each evaluation's results."""
    lines = run[2].stdout.splitlines()
    progress = [line for line in lines if re.match(r"step \d+/", line)]
    assert [line.split("  ")[0] for line in progress] == ["step 15/30", "step 30/30"]
    assert all(" steps/s  elapsed " in line and "  left " in line for line in progress)
    evaluated = [line for line in lines if " evaluated in " in line]
    assert [line.split()[1] for line in evaluated] == ["15", "30"]
    assert "wasserstein/exact" in evaluated[0]


def test_logger_none_writes_no_wandb_run(workdir, in_process):
    result = in_process(
        train_main, "logger=none", "trainer.steps=2", "hydra.run.dir=run", cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    assert not (workdir / "run" / "wandb").exists()
    assert len(jsonl(workdir / "run" / "metrics.jsonl")) == 1


def test_one_tag_without_brackets_is_one_tag(workdir, in_process):
    result = in_process(
        train_main, "logger.tags=toy", "trainer.steps=2", "hydra.run.dir=run", cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    (run,) = [r.run for r in wandb_records(workdir / "run") if r.WhichOneof("record_type") == "run"]
    assert list(run.tags) == ["toy"]


def test_the_manuals_wandb_sync_commands_exist_in_the_installed_wandb():
    root = Path(__file__).parents[1]
    pages = [root / "README.md", *(root / "docs").rglob("*.md")]
    lines = [line.strip() for page in pages for line in page.read_text().splitlines()]
    commands = [line for line in lines if line.startswith("wandb sync")]
    assert commands
    usage = subprocess.run(
        [str(BIN / "wandb"), "sync", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in commands:
        for flag in re.findall(r"\s(--?[a-z][\w-]*)", command):
            assert flag in usage, (command, flag)


def test_help_says_what_gan_train_is_and_the_common_commands(workdir, in_process):
    result = in_process(train_main, "--help", cwd=workdir)
    assert result.returncode == 0
    assert result.stdout.startswith("gan-train: train a GAN") and "powered by Hydra" not in (
        result.stdout
    )
    for command in ("gan-train loss=vanilla", "gan-train -m", "trainer.resume=auto", "gan-sample"):
        assert command in result.stdout, command
    assert (
        "loss: ali, fgan, lsgan, sn, vanilla, veegan, wgan, wgan_gp" in result.stdout
    )  # Hydra's lists


@pytest.mark.parametrize("args", [[], ["data=mnist", "model=dcgan"]])
def test_help_is_hydras_help_letter_for_letter(args, workdir, in_process, capsys, monkeypatch):
    """gan-train --help lists the groups itself (Hydra would list its own too, slowly,
    for a template that never shows them): the text is the same."""
    from gan_cli.cli.command_line import Plan
    from gan_cli.cli.launch import launch

    ours = in_process(train_main, "--help", *args, cwd=workdir)
    assert ours.returncode == 0 and ours.stdout.startswith("gan-train: train a GAN")
    with pytest.raises(SystemExit):  # (Hydra exits after its help)
        launch(Plan(["--help", *args]))
    hydras = capsys.readouterr().out
    # but for the groups, listed as users write them: nested ones with a dot, and
    # without the internal ones
    for group, options in config_groups().items():
        line = f"{group}: {', '.join(options)}\n"
        shown = "" if group in INTERNAL_GROUPS else line.replace("/", ".", 1)
        hydras = hydras.replace(line, shown)
    assert ours.stdout == hydras


@pytest.mark.parametrize(
    "args",
    [
        ["data=cifar10", "model=dcgan"],
        ["data=stacked_mnist", "model=dcgan"],
        *[  # the experiments: with the slow tests (test_experiments trains each a step)
            pytest.param([f"+experiment={p.stem}"], marks=pytest.mark.slow)
            for p in sorted(Path(config_dir(), "experiment").glob("*.yaml"))
        ],
    ],
    ids=lambda a: " ".join(a),
)
def test_cfg_job_prints_the_config_without_data_files_or_network(args, workdir, in_process):
    """Printing a config checks it and reads no data set: nothing is fetched or written."""
    result = in_process(train_main, *args, "--cfg", "job", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "_target_: gan_cli.data." in result.stdout
    assert not any(workdir.iterdir())


def test_hydras_command_line_reads_as_gan_train_expects():
    """The uses of Hydra's private modules (gan_cli/config/hydra_private.py): a Hydra whose
    parser, flag list, sweeper or override setter moved fails here (its app runner: every
    run of the tests)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from gan_cli.config.hydra_private import apply_overrides, flags_help, parse_args, sweep_jobs

    parsed = parse_args(["-m", "--cfg", "job", "loss=vanilla", "trainer.steps=2"])
    assert parsed.multirun and parsed.cfg == "job" and not parsed.help
    assert parsed.overrides == ["loss=vanilla", "trainer.steps=2"]
    assert parse_args(["--help"]).help
    assert "--multirun" in flags_help() and "--cfg" in flags_help()
    # a sweep's jobs as Hydra's basic sweeper splits them, and keys set as Hydra sets them
    swept = OverridesParser.create().parse_overrides(["loss.gp_lambda=1,10", "trainer.seed=0"])
    assert sweep_jobs(swept) == [
        ["loss.gp_lambda=1", "trainer.seed=0"],
        ["loss.gp_lambda=10", "trainer.seed=0"],
    ]
    cfg = OmegaConf.create({"trainer": {"seed": 1}})
    apply_overrides(OverridesParser.create().parse_overrides(["trainer.seed=7"]), cfg)
    assert cfg.trainer.seed == 7


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("gan_train", ["--help"]),
        ("gan_train", ["trainer.stpes=1"]),
        ("sample", ["--help"]),
        ("plot", ["--help"]),
    ],
    ids=["gan-train --help", "gan-train with a typo", "gan-sample --help", "gan-plot --help"],
)
def test_help_and_a_typo_are_answered_without_importing_torch(command, args, tmp_path):
    """They read the config alone: torch (seconds to import) is never loaded."""
    code = (
        "import sys\n"
        f"sys.argv = ['gan-{command}', *{args!r}]\n"
        f"from gan_cli.cli.{command} import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.stderr.strip().endswith("no torch"), result.stderr
    assert "gan-" in result.stdout or "error" in result.stderr


def test_exact_w1_imports_pot_without_scikit_learn(tmp_path):
    """POT's solver alone: scikit-learn (a second of the first evaluation) is not loaded."""
    code = (
        "import sys, numpy as np\n"
        "from gan_cli.metrics.exact_w1 import exact_w1\n"
        "w = exact_w1(np.zeros((5, 2)), np.ones((5, 2)))\n"
        "print(round(w, 6), 'sklearn' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == [str(round(2**0.5, 6)), "False"], result.stderr
