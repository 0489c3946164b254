"""Every command and Python block that README.md and the manual (docs/) show runs, as a
reader would run it, and leaves the files it says it writes; a command shown with its
error gets exactly that error.

What a reader's machine has and this one lacks is stood in for, the same way for every
command (`stand_ins`): data sets are small files in the official formats, a folder of
photographs is a small tree of PNG and JPEG files, a run folder a command reads (RUN,
runs/toy, outputs/DATE/TIME) is one of a few runs trained here once, and SLURM is
submitit's local launcher (each SLURM command is first composed with the SLURM launcher,
so its keys are checked against that launcher's). Runs are cut to their smallest size
(`budget`): 2 generator steps, narrow networks, small evaluations, no tracker unless the
command names one, a sweep runs two jobs (its first swept key two values, the others
their first); gan-sample
draws 500 samples at most; 128- and 256-pixel runs leave their evaluations out (the
domain classifier at that size takes minutes on a CPU).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from gan_cli.cli import data, doctor, plot, sample
from gan_cli.cli import gan_train as train
from gan_cli.config.compose import compose_jobs, config_dir
from gan_cli.data import image_files
from tests import doc_pages
from tests.helpers import image_data, run_in_process

MAINS = {
    "gan-train": train.main,
    "gan-sample": sample.main,
    "gan-data": data.main,
    "gan-plot": plot.main,
    "gan-doctor": doctor.main,
}
SHOWN = sorted(doc_pages.shown().items(), key=lambda kv: (kv[1], kv[0].command))
BLOCKS = doc_pages.blocks()


def test_the_docs_show_enough_to_run():
    programs = {s.command.split()[0] for s, _ in SHOWN}
    assert programs == set(doc_pages.PROGRAMS)
    assert doc_pages.count() >= 150, doc_pages.count()


# --- the runs a documented command reads ---------------------------------------------------

QUICK = ["trainer.steps=2", "logger=none", "trainer.sample_every=1", "trainer.eval_every=1"]
SMALL_IMAGES = [
    "model=dcgan",
    "loss=vanilla",
    "model.g_channels=8",
    "model.d_channels=8",
    "data.batch_size=8",
    "data.heldout_size=50",
    "metrics.n_samples=200",
]


def _train(args: list[str], cwd: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.setattr(sys, "argv", ["gan-train", *args])
        try:
            train.main()
        except SystemExit as e:
            assert not e.code, f"gan-train {' '.join(args)} failed"


@pytest.fixture(scope="session")
def doc_runs(tmp_path_factory, image_root) -> dict[str, Path]:
    """Runs of 2 steps the commands read: toy data; a Fashion-MNIST DCGAN; a conditional
    one (class names); sweeps of two seeds of the toy run and of the DCGAN."""
    base = tmp_path_factory.mktemp("doc_runs")
    fashion = [*image_data("fashion_mnist", image_root), *SMALL_IMAGES, *QUICK]
    made = {
        "toy": [*QUICK, "model.hidden_dim=32", "data.heldout_size=200"],
        "image": fashion,
        "conditional": [*fashion, "model.conditional=projection"],
    }
    for name, args in made.items():
        _train([*args, f"hydra.run.dir={base / name}"], base)
    for name, args in {"sweep": made["toy"], "image_sweep": fashion}.items():
        _train(["-m", "trainer.seed=0,1", *args, f"hydra.sweep.dir={base / name}"], base)
    return {name: base / name for name in [*made, "sweep", "image_sweep"]}


# --- stand-ins ------------------------------------------------------------------------------

DATA_SETS = ("mnist", "fashion_mnist", "stacked_mnist", "cifar10")
EXPERIMENTS_WITH_FILES = ("cifar10", "fashion_mnist", "stacked_mnist")
SHARED = "/shared/me"  # the clusters guide's folder on the cluster's shared filesystem
LOCAL_LAUNCHER_KEYS = {"timeout_min", "cpus_per_task", "mem_gb", "name", "submitit_folder"}


def _key(arg: str) -> str:
    return arg.partition("=")[0].lstrip("+~")


def _set(args: list[str], key: str, value: str) -> list[str]:
    """args with key=value, in place of the command's own value of key if it has one."""
    kept = [a for a in args if _key(a) != key]
    return [*kept, f"{key}={value}"]


def _image_kind(args: list[str]) -> str:
    """Which run stands in for the one a gan-sample, gan-plot or gan-doctor command reads."""
    text = " ".join(args)
    if "class=" in text:
        return "conditional"
    if re.search(r"project=\S+\.(npy|csv)\b", text) or "timelapse" in text:
        return "toy"
    if re.search(r"project=|nearest=|fashion|fid/|classes/|metrics=true", text):
        return "image"
    return "toy"


def _place_run(path: str, kind: str, runs: dict[str, Path], cwd: Path) -> None:
    """A copy of the stand-in run at the path a command names (a run folder, or a
    checkpoint file of one), unless the path is there already."""
    target = cwd / path
    if target.suffix == ".pt":
        target = target.parent.parent
    if not target.exists():
        sweep = "multirun" in path or "sweeps/" in path
        shutil.copytree(
            runs[("image_sweep" if kind == "image" else "sweep") if sweep else kind], target
        )


def _targets(path: str, cwd: Path) -> None:
    """Images, a folder of images or points to project, where a command names them."""
    from PIL import Image

    target = cwd / path
    if target.exists():
        return
    rng = np.random.default_rng(0)
    if target.suffix in (".npy", ".csv"):
        points = rng.normal(size=(4, 2))
        if target.suffix == ".npy":
            np.save(target, points)
        else:
            np.savetxt(target, points, delimiter=",")
        return
    files = [target] if target.suffix else [target / f"{i}.png" for i in range(3)]
    for file in files:
        file.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(file)


def _sweep_params(args: list[str]) -> dict[str, str]:
    """The keys a +sweep preset sweeps, with their values."""
    found = {}
    for arg in args:
        if arg.startswith("+sweep="):
            preset = OmegaConf.load(Path(config_dir(), "sweep", f"{arg.split('=', 1)[1]}.yaml"))
            params = OmegaConf.select(preset, "hydra.sweeper.params") or {}
            found.update({k: str(v) for k, v in params.items()})
    return found


def _cut(value: str, n: int) -> str | None:
    """A swept value cut to its first n values, or None if it has n or fewer (or is
    another sweeper's search space: Optuna's interval, choice, ...)."""
    ranged = re.fullmatch(r"range\((\d+)\)", value)
    if ranged:
        return f"range({n})" if int(ranged[1]) > n else None
    if "(" in value:
        return None
    values = value.split(",")
    return ",".join(values[:n]) if len(values) > n else None


def _two_jobs(args: list[str]) -> list[str]:
    """A sweep cut to two jobs: its first swept key keeps two values, every other one
    its first (the command's own values first, then a +sweep preset's)."""
    swept = [a for a in args if "=" in a and not a.startswith(("-", "hydra"))]
    swept = [a for a in swept if _key(a) != "data.augment" and ("," in a or "range(" in a)]
    presets = _sweep_params(args)
    keys = [_key(a) for a in swept]
    keys += [k for k in presets if k.lstrip("+") not in keys]
    out = list(args)
    for i, key in enumerate(keys):
        n = 2 if i == 0 else 1
        given = [a for a in out if _key(a) == key.lstrip("+") and a in swept]
        if given:
            value = given[0].partition("=")[2]
            cut = _cut(value, n)
            if cut:
                out[out.index(given[0])] = f"{given[0].partition('=')[0]}={cut}"
        else:
            cut = _cut(presets[key], n)
            if cut:
                out.append(f"{key}={cut}")
    return out


def stand_ins(program: str, args: list[str], cwd: Path, ctx) -> list[str]:
    """The command's arguments with what a reader's machine has put here."""
    image_root, weights, runs = ctx.image_root, ctx.weights, ctx.runs
    out = []
    for arg in args:
        arg = arg.replace(SHARED, str(cwd / "shared"))  # the cluster's shared folder
        key, _, value = arg.partition("=")
        if key in ("data.root", "data.download"):
            continue
        if key == "data.path":
            arg = f"data.path={image_root / 'folder'}"
        elif key == "data.labels":  # a labels file for every image of the stand-in folder
            images = [f.path for f in image_files.scan(image_root / "folder")]
            rows = "".join(f"{p},{'ab'[i % 2]}\n" for i, p in enumerate(images))
            (cwd / "labels.csv").write_text("file,label\n" + rows)
            arg = f"data.labels={cwd / 'labels.csv'}"
        elif key == "metrics.inception_weights":
            arg = f"{key}={weights}"
        elif key == "checkpoint" and program == "gan-sample":
            _place_run(value, _image_kind(args), runs, cwd)
        elif key == "project" and program == "gan-sample":
            _targets(value, cwd)
        elif program in ("gan-plot", "gan-doctor") and "=" not in arg and arg[0] != "-":
            _place_run(arg, _image_kind(args), runs, cwd)
        out.append(arg)
    if program == "gan-doctor" and "try=true" in args:
        out = _set(out, "try.steps", "2")
    if program == "gan-sample" and any(a.startswith("n=") and int(a[2:]) > 500 for a in args):
        out = _set(out, "n", "500")
    if program != "gan-train":
        return out
    named_data = any(
        a in (f"data={d}" for d in DATA_SETS)
        or a.startswith(tuple(f"+experiment={e}" for e in EXPERIMENTS_WITH_FILES))
        for a in args
    )
    if named_data:
        out += [f"data.root={image_root}", "data.download=false"]
    if "data=image_folder" in args and not any(a.startswith("data.cache_dir=") for a in args):
        out.append(f"data.cache_dir={image_root / 'packs'}")
    return out


def _local_launcher(args: list[str]) -> list[str]:
    """A SLURM command on submitit's local launcher: one task of one node, no GPU, the
    keys SLURM alone has left out."""
    out = []
    for arg in args:
        if arg == "hydra/launcher=submitit_slurm":
            arg = "hydra/launcher=submitit_local"
        elif _key(arg).startswith("hydra.launcher."):
            if _key(arg).removeprefix("hydra.launcher.") not in LOCAL_LAUNCHER_KEYS:
                continue
        out.append(arg)
    return [*out, "hydra.launcher.nodes=1", "hydra.launcher.tasks_per_node=1"]


def budget(args: list[str], cwd: Path, ctx) -> list[str]:
    """The command cut to its smallest run: 2 steps, narrow networks, small evaluations,
    no tracker unless it names one, a sweep two jobs."""
    multirun = "-m" in args or "--multirun" in args
    if multirun:
        args = _two_jobs(args)
    if "hydra/launcher=submitit_slurm" in args:
        compose_jobs([a for a in args if not a.startswith("-")], multirun)  # SLURM's keys
        args = _local_launcher(args)
    composed = compose_jobs([a for a in args if not a.startswith("-")], multirun)
    cfg = composed.jobs[0].config
    cut = {"trainer.steps": "2", "metrics.n_samples": "20", "metrics.classifier_steps": "2"}
    if cfg.trainer.steps <= 2:
        del cut["trainer.steps"]
    model = cfg.model
    if "hidden_dim" in model:
        cut["model.hidden_dim"] = "32"
    if "g_channels" in model and "model.arch_seed" not in " ".join(args):
        cut |= {"model.g_channels": "8", "model.d_channels": "8"}
    images = not cfg.data._target_.endswith("Toy2D")
    cut["data.heldout_size"] = "50" if images else "200"
    if images:
        cut["data.batch_size"] = "8"
    if (cfg.data.get("image_size") or 0) >= 128:  # the domain classifier at this size: minutes
        cut["metrics.eval"] = "[]"
    if "stacked_samples" in cfg.metrics:
        cut["metrics.stacked_samples"] = "50"
    if cfg.get("boost"):
        cut["boost.rounds"] = "2"
    if cfg.metrics.fid and not cfg.metrics.inception_weights:
        cut["metrics.inception_weights"] = ctx.weights
    if "logger" not in " ".join(a for a in args if not a.startswith("hydra")):
        cut["logger"] = "none"
    if "+sweep=optuna_wgan_gp" in args:
        cut["hydra.sweeper.n_trials"] = "2"
    for key, value in cut.items():
        if not any(_key(a) == key and "," in a for a in args):  # a swept key stays swept
            args = _set(args, key, value)
    if multirun and not any(a.startswith("hydra.sweep.dir=") for a in args):
        args.append(f"hydra.sweep.dir={cwd / 'multirun'}")
    return args


# --- the files a command says it writes -----------------------------------------------------


def _run_folder(args: list[str], cwd: Path) -> Path:
    for arg in args:
        if arg.startswith(("hydra.run.dir=", "hydra.sweep.dir=")):
            return cwd / arg.split("=", 1)[1]
    made = sorted((cwd / ("multirun" if "-m" in args else "outputs")).glob("*/*"))
    assert made, f"no run folder in {cwd}"
    return made[-1]


def _check_files(program: str, args: list[str], output: str, comment: str, cwd: Path) -> None:
    """The files a command writes: a run's checkpoint and metrics, a sweep's summary, the
    files gan-sample, gan-plot and gan-data name, and any the page's comment names."""
    if program == "gan-train" and not any(a.startswith("--") for a in args):
        folder = _run_folder(args, cwd)
        if "-m" in args:
            assert (folder / "summary.csv").is_file(), output
        else:
            assert (folder / "checkpoints" / "last.pt").is_file(), output
            assert (folder / "metrics.jsonl").is_file(), output
    for line in output.splitlines():
        wrote = re.match(r"gan-sample: wrote to (\S+): (.*)", line)
        if wrote:
            for name in re.findall(r"(?:^|, )(\.?/?[\w./-]+\.\w+)", wrote[2]):
                where = cwd if name.startswith(("./", "/")) else cwd / wrote[1]
                assert (where / name).is_file(), f"{name} in {line}"
    for path in re.findall(
        r"(?<![\w/.])((?:runs|outputs)/[\w/.-]*\.(?:png|gif|pdf|csv|json|npz))", comment
    ):
        assert (cwd / path).is_file(), f"{path}, which the page says the command writes"


# --- the tests ------------------------------------------------------------------------------


class Context:
    def __init__(self, image_root: Path, weights: str, runs: dict[str, Path]) -> None:
        self.image_root, self.weights, self.runs = image_root, weights, runs


def _ids(items) -> list[str]:
    return [s.command[:90] for s, _ in items]


def run_shown(shown, pages, tmp_path, image_root, inception_weights, doc_runs, capsys, mp):
    program, *args = shlex.split(shown.command)
    ctx = Context(image_root, inception_weights, doc_runs)
    mp.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    mp.setenv("OMP_NUM_THREADS", "1")
    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        mp.delenv(key)
    given = stand_ins(program, args, tmp_path, ctx)
    if program == "gan-train" and shown.error is None and not any(a.startswith("--") for a in args):
        given = budget(given, tmp_path, ctx)
    code, output = run_in_process(MAINS[program], given, tmp_path, capsys, mp)
    if "wandb" in sys.modules:
        sys.modules["wandb"].teardown()
    where = f"{' '.join(pages)}: {shown.command}\n  ran: {program} {shlex.join(given)}"
    if shown.error is not None:
        assert code != 0 and f"{program}: error: {shown.error}" in output, f"{where}\n{output}"
        return
    findings = program == "gan-doctor" and code == 1  # its exit status for a run with findings
    assert code == 0 or findings, f"{where}\n{output[-3000:]}"
    comment = doc_pages.comment_of(doc_pages.page_text(pages), shown.command)
    _check_files(program, given, output, comment, tmp_path)


def _cheap(shown: doc_pages.Shown) -> bool:
    """A command refused with its error, or a help text: no run, with the default tests."""
    program, *args = shown.command.split()
    helps = args == ["--help"] or (not args and program != "gan-train")
    return shown.error is not None or helps


def _params(where):
    chosen = [(s, p) for s, p in SHOWN if where(s.command.split())]
    return pytest.mark.parametrize(
        ("shown", "pages"),
        [pytest.param(s, p, marks=() if _cheap(s) else pytest.mark.slow) for s, p in chosen],
        ids=_ids(chosen),
    )


def _one_run(words: list[str]) -> bool:
    return words[0] == "gan-train" and "-m" not in words


def _images(words: list[str]) -> bool:
    """A run on image files: the longer runs, a scope of their own."""
    return any(w.startswith(("data=", "+experiment=")) and "toy" not in w for w in words)


def _run(shown, pages, tmp_path, image_root, inception_weights, capsys, request) -> None:
    runs = {} if _cheap(shown) else request.getfixturevalue("doc_runs")
    with pytest.MonkeyPatch.context() as mp:
        run_shown(shown, pages, tmp_path, image_root, inception_weights, runs, capsys, mp)


# one class a scope of `make test-slow` (--dist loadscope): a few scopes of similar length
class TestToyRuns:
    @_params(lambda w: _one_run(w) and not _images(w))
    def test_runs(self, shown, pages, tmp_path, image_root, inception_weights, capsys, request):
        _run(shown, pages, tmp_path, image_root, inception_weights, capsys, request)


class TestImageRuns:
    @_params(lambda w: _one_run(w) and _images(w))
    def test_runs(self, shown, pages, tmp_path, image_root, inception_weights, capsys, request):
        _run(shown, pages, tmp_path, image_root, inception_weights, capsys, request)


class TestSweeps:
    @_params(lambda w: w[0] == "gan-train" and "-m" in w)
    def test_sweeps(self, shown, pages, tmp_path, image_root, inception_weights, capsys, request):
        _run(shown, pages, tmp_path, image_root, inception_weights, capsys, request)


class TestSampling:
    @_params(lambda w: w[0] == "gan-sample")
    def test_uses(self, shown, pages, tmp_path, image_root, inception_weights, capsys, request):
        _run(shown, pages, tmp_path, image_root, inception_weights, capsys, request)


class TestOtherCommands:
    @_params(lambda w: w[0] in ("gan-data", "gan-plot", "gan-doctor"))
    def test_uses(self, shown, pages, tmp_path, image_root, inception_weights, capsys, request):
        _run(shown, pages, tmp_path, image_root, inception_weights, capsys, request)


# --- Python blocks --------------------------------------------------------------------------


def _python_stand_ins(code: str, runs: dict[str, Path], exported: Path) -> str:
    """The block with its placeholders pointed here and its training cut to 2 steps."""
    code = code.replace('"RUN"', repr(str(runs["image"])))
    code = code.replace('"PATH.pt2"', repr(str(exported)))
    return re.sub(r"trainer\.steps=\d+", "trainer.steps=2", code)


@pytest.fixture(scope="session")
def exported(doc_runs, tmp_path_factory) -> Path:
    import gan_cli

    path = tmp_path_factory.mktemp("exported") / "generator.pt2"
    gan_cli.load(doc_runs["image"]).export(path)
    return path


class TestPython:
    @pytest.mark.slow
    @pytest.mark.parametrize(
        ("page", "index", "code"), BLOCKS, ids=[f"{p}#{i}" for p, i, _ in BLOCKS]
    )
    def test_python_block_runs(self, page, index, code, doc_runs, exported, tmp_path, monkeypatch):
        """Each block in an empty folder, as a reader pastes it into a file and runs it; a
        block that registers a loss or a metric in a fresh interpreter, so the registries
        of the tests after it stay as gan-cli makes them."""
        script = tmp_path / "block.py"
        script.write_text(_python_stand_ins(code, doc_runs, exported))
        where = f"{page}, Python block {index}:\n{code}"
        if "@register" in code:
            env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
            done = subprocess.run(
                [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env
            )
            assert done.returncode == 0, f"{where}\n{done.stderr[-3000:]}"
            return
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("WANDB_MODE", "disabled")
        exec(compile(script.read_text(), str(script), "exec"), {"__name__": "__main__"})
