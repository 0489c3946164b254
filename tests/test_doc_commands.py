"""Every `gan-train`, `gan-sample` and `gan-data` command that README.md and the manual
(docs/) show composes and passes the checks a run meets before it starts, as `gan-train
... --cfg job` does, on small stand-in files in the official formats where a command
names a data set; a command shown with the error it gets must get exactly that error."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from gan_cli.cli import data, sample
from gan_cli.cli import gan_train as train
from gan_cli.cli.command_line import check_command_line
from gan_cli.core.errors import UserError
from gan_cli.data import image_files
from gan_cli.training.checkpoint import find_checkpoint, read_checkpoint
from gan_cli.training.conditioning import asked_classes, from_state
from tests.helpers import image_data

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PROGRAMS = ("gan-train", "gan-sample", "gan-data")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
DATA_SETS = ("mnist", "fashion_mnist", "stacked_mnist", "cifar10")


def _commands_in(text: str) -> list[tuple[str, str | None]]:
    """(command, the error line shown under it or None), from code blocks (a command
    continued over lines with a backslash, a `$ ` prompt and a trailing comment allowed)
    and from inline code."""
    found = []
    for block in FENCE.findall(text):
        lines = block.replace("\\\n", " ").splitlines()
        for i, line in enumerate(lines):
            command = _command(line.strip().removeprefix("$ "))
            if command:
                after = lines[i + 1].strip() if i + 1 < len(lines) else ""
                error = after.split(": error: ", 1)[1] if ": error: " in after else None
                found.append((command, error))
    for span in re.findall(r"`([^`]+)`", FENCE.sub("", text)):
        command = _command(" ".join(span.split()))
        if command:
            found.append((command, None))
    return found


def _command(line: str) -> str | None:
    """A gan-train, gan-sample or gan-data command line, without its comment; torchrun's form of
    gan-train (`torchrun ... -m gan_cli.train ARGS`) counts as gan-train."""
    line = re.sub(r"\s+#.*$", "", line).strip()
    if not line.isascii():  # a progress bar's line, not a command
        return None
    if line.startswith("torchrun ") and " -m gan_cli.train" in line:
        line = "gan-train" + line.split(" -m gan_cli.train", 1)[1]
    if line == "gan-train" or line.startswith(tuple(f"{p} " for p in PROGRAMS)):
        return line
    return None


def _shown() -> dict[tuple[str, str | None], list[str]]:
    """{(command, its error): the pages that show it}: a command shown twice is checked once."""
    shown: dict[tuple[str, str | None], list[str]] = {}
    for page in PAGES:
        for found in _commands_in(page.read_text()):
            shown.setdefault(found, []).append(str(page.relative_to(ROOT)))
    return shown


COMMANDS = sorted((" ".join(pages), c, e) for (c, e), pages in _shown().items())


def test_the_docs_show_commands_of_every_program():
    shown = {c.split()[0] for _, c, _ in COMMANDS}
    assert shown == set(PROGRAMS) and len(COMMANDS) > 60


@pytest.fixture(scope="module")
def runs(tmp_path_factory, image_root) -> dict[str, Path]:
    """Run folders of one step the gan-sample commands read: toy data, and a
    class-conditional Fashion-MNIST run (class names) on the stand-in files."""
    base = tmp_path_factory.mktemp("runs")
    quick = ["trainer.steps=1", "logger=none", "metrics.eval=[]", "data.heldout_size=50"]
    small = ["model.g_channels=8", "model.d_channels=8", "data.batch_size=8"]
    made = {
        "toy": quick,
        "conditional": [
            *image_data("fashion_mnist", image_root),
            "model=dcgan",
            "loss=vanilla",
            "model.conditional=projection",
            *small,
            *quick,
        ],
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, overrides in made.items():
            mp.chdir(base)
            mp.setattr("sys.argv", ["gan-train", *overrides, f"hydra.run.dir={base / name}"])
            train.main()
    return {name: base / name for name in made}


def _stand_ins(args: list[str], tmp: Path, image_root: Path, weights: str) -> list[str]:
    """The command's arguments with placeholders and data sets pointed at files here."""
    out = []
    needs_files = any(
        a in (f"data={d}" for d in DATA_SETS)
        or a.startswith(
            ("+experiment=cifar10", "+experiment=fashion_mnist", "+experiment=stacked_mnist")
        )
        for a in args
    )
    for arg in args:
        key, _, value = arg.partition("=")
        if key in ("data.root", "data.download"):
            continue
        if key == "data.path":
            arg = f"data.path={image_root / 'folder'}"
        elif key == "data.labels":  # a labels file for every image of the stand-in folder
            arg = f"data.labels={tmp / 'labels.csv'}"
            images = [f.path for f in image_files.scan(image_root / "folder")]
            rows = "".join(f"{p},{'ab'[i % 2]}\n" for i, p in enumerate(images))
            (tmp / "labels.csv").write_text("file,label\n" + rows)
        elif key in ("hydra.run.dir", "hydra.sweep.dir"):
            arg = f"{key}={tmp / 'run'}"
        elif key == "metrics.inception_weights":
            arg = f"{key}={weights}"
        out.append(arg)
    if needs_files:
        out += [f"data.root={image_root}", "data.download=false"]
    return out


def _check_gan_sample(args: list[str], runs: dict[str, Path]) -> None:
    """What gan-sample checks before it samples: the options, the checkpoint, the classes."""
    parsed = sample.parse(args)
    run = runs["conditional" if parsed.class_ is not None or parsed.metrics else "toy"]
    given = Path(parsed.checkpoint)
    parsed.checkpoint = str(run / "checkpoints" / given.name if given.suffix == ".pt" else run)
    state = read_checkpoint(find_checkpoint(parsed.checkpoint)[0])
    classes = from_state(state) if "classes" in state else None
    asked_classes(parsed.class_, classes)


# sweeps of dozens to hundreds of jobs, each composed and checked as gan-train checks it
# before the first job starts: with the slow tests
MANY_JOBS = ("+sweep=random_architectures", "+sweep=architectures")


@pytest.mark.parametrize(
    ("page", "command", "error"),
    [
        pytest.param(*c, marks=pytest.mark.slow if any(m in c[1] for m in MANY_JOBS) else ())
        for c in COMMANDS
    ],
    ids=[c[:80] for _, c, _ in COMMANDS],
)
def test_each_command_in_the_docs_is_accepted(
    page, command, error, runs, image_root, inception_weights, tmp_path, monkeypatch
):
    program, *args = shlex.split(command)
    monkeypatch.chdir(tmp_path)
    try:
        if program == "gan-sample":
            if args not in ([], ["--help"]):
                _check_gan_sample(args, runs)
        elif program == "gan-data" and args != ["--help"]:
            assert args[0] in data.ACTIONS, f"{page}: {command}: no such action"
            check_command_line(_stand_ins(args[1:], tmp_path, image_root, inception_weights))
        elif args != ["--help"]:
            check_command_line(_stand_ins(args, tmp_path, image_root, inception_weights))
    except UserError as e:
        assert error is not None, f"{page}: {command}\n  -> {e}"
        assert str(e) == error, f"{page}: {command}\n  shows: {error}\n  gets:  {e}"
    else:
        assert error is None, f"{page}: {command} is shown failing with {error!r}, and passes"


def test_a_broken_command_in_a_page_fails_the_check(runs, image_root, inception_weights, tmp_path):
    """The check is not a formality: a command with a mistyped key is refused."""
    (command, _), *_ = _commands_in("```bash\ngan-train trainer.stpes=1  # a typo\n```\n")
    _, *args = shlex.split(command)
    with pytest.raises(UserError, match="did you mean trainer.steps"):
        check_command_line(_stand_ins(args, tmp_path, image_root, inception_weights))
