"""What each config key means, in one line: the comment beside it in conf/, or the
`Args:` line of the class that reads it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[\w.]+):(?P<rest>.*)$")
# groups whose files describe keys; experiments, sweeps and architectures only set them
DESCRIBING = ("", "data", "model", "loss", "optim", "logger", "boost", "metrics", "trainer")


def yaml_comments(conf: Path) -> dict[str, str]:
    """{full key: its comment} from every file of conf/ whose group describes keys."""
    found: dict[str, str] = {}
    files = sorted(conf.rglob("*.yaml"), key=lambda p: (len(p.parts), str(p)))
    for path in files:
        group = str(path.parent.relative_to(conf)).replace("\\", "/")
        group = "" if group == "." else group
        if group.split("/")[0] not in DESCRIBING:
            continue
        for key, comment in _file_comments(path, group).items():
            found.setdefault(key, comment)
    return found


def _file_comments(path: Path, group: str) -> dict[str, str]:
    lines = path.read_text().splitlines()
    package = group.replace("/", ".")
    if lines and lines[0].startswith("# @package"):
        named = lines[0].split()[-1]
        package = "" if named == "_global_" else named
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the open nodes
    column, last = None, None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):  # a comment carried on from the line above
            if last is not None and column is not None and line.index("#") == column:
                out[last] += " " + stripped.lstrip("# ")
            continue
        column, last = None, None
        match = KEY_LINE.match(line)
        if not match:
            continue
        indent, key = len(match["indent"]), match["key"]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if stack[0][1] in ("defaults", "hydra"):
            continue
        value, _, comment = match["rest"].partition(" #")
        if comment.strip() and not comment.startswith(" @package"):
            full = ".".join(p for p in (package, *(k for _, k in stack)) if p)
            out[full] = comment.strip(" #")
            column, last = line.index(" #") + 1, full
    return out


def args_lines(cls: type) -> dict[str, str]:
    """{argument: its line} from the `Args:` section of a class's (or its __init__'s)
    docstring, Google style: `name: what it is`, continued on deeper-indented lines."""
    out: dict[str, str] = {}
    for doc in (inspect.getdoc(cls), inspect.getdoc(cls.__init__)):
        lines = (doc or "").splitlines()
        if "Args:" not in lines:
            continue
        section = lines[lines.index("Args:") + 1 :]
        indent = len(section[0]) - len(section[0].lstrip()) if section else 0
        name = None
        for line in section:
            depth = len(line) - len(line.lstrip())
            match = re.match(r"^(\w+): (.*)$", line.strip())
            if not line.strip():
                break
            if depth == indent and match:
                name = match[1]
                out[name] = match[2].strip()
            elif name and depth > indent:
                out[name] += " " + line.strip()
            else:
                break
    return out
