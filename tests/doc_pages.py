"""What README.md and the manual (docs/) show a reader to copy: every command of gan-cli's
five programs and every Python block, found as tests/test_doc_runs.py runs them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PROGRAMS = ("gan-train", "gan-sample", "gan-data", "gan-plot", "gan-doctor")
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class Shown:
    """A command as a page shows it, with the error line shown under it (or None)."""

    command: str
    error: str | None


def _command(line: str) -> str | None:
    """A command line of one of the programs, without its comment; torchrun's form of
    gan-train (`torchrun ... -m gan_cli.train ARGS`) counts as gan-train. A program's
    name alone is a command only for gan-train (the others print their help)."""
    line = re.sub(r"\s+#.*$", "", line).strip()
    if not line.isascii():  # a progress bar's line, not a command
        return None
    if line.startswith("torchrun ") and " -m gan_cli.train" in line:
        line = "gan-train" + line.split(" -m gan_cli.train", 1)[1]
    if line == "gan-train" or line.startswith(tuple(f"{p} " for p in PROGRAMS)):
        return line
    return None


def comment_of(text: str, command: str) -> str:
    """The comment after a command in a code block (the files it says it writes)."""
    for line in text.replace("\\\n", " ").splitlines():
        line = " ".join(line.strip().removeprefix("$ ").split())
        if line.startswith(command) and "#" in line[len(command) :]:
            return line[len(command) :].split("#", 1)[1]
    return ""


def commands_in(text: str) -> list[Shown]:
    """The commands of a page: in code blocks (a command continued over lines with a
    backslash, a `$ ` prompt and a trailing comment allowed; an error shown on the next
    line as `PROGRAM: error: ...`) and in inline code."""
    found = []
    for _, block in FENCE.findall(text):
        lines = block.replace("\\\n", " ").splitlines()
        for i, line in enumerate(lines):
            command = _command(" ".join(line.strip().removeprefix("$ ").split()))
            if command:
                after = lines[i + 1].strip() if i + 1 < len(lines) else ""
                error = after.split(": error: ", 1)[1] if ": error: " in after else None
                found.append(Shown(command, error))
    for span in re.findall(r"`([^`]+)`", FENCE.sub("", text)):
        command = _command(" ".join(span.split()))
        if command:
            found.append(Shown(command, None))
    return found


def python_in(text: str) -> list[str]:
    """The page's Python blocks."""
    return [code for lang, code in FENCE.findall(text) if lang.strip() == "python"]


def shown() -> dict[Shown, list[str]]:
    """{command: the pages that show it}: a command shown twice is run once."""
    found: dict[Shown, list[str]] = {}
    for page in PAGES:
        for command in commands_in(page.read_text()):
            found.setdefault(command, []).append(str(page.relative_to(ROOT)))
    return found


def blocks() -> list[tuple[str, int, str]]:
    """(page, its n-th Python block, the code)."""
    return [
        (str(page.relative_to(ROOT)), i, code)
        for page in PAGES
        for i, code in enumerate(python_in(page.read_text()), 1)
    ]


def page_text(pages: list[str]) -> str:
    return "\n".join((ROOT / p).read_text() for p in pages)


def count() -> int:
    """How many documented commands and Python blocks the tests run."""
    return len(shown()) + len(blocks())
