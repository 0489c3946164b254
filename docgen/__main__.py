"""python -m docgen [--check]: write the manual's generated pages (the reference from the
code and conf/, the Results from bench/results/, Getting started from the tutorial's
recorded runs); with --check, write nothing and exit 1 naming each page that differs
from what the code generates now, and each line Getting started shows that the
tutorial's commands no longer print (docgen.tutorial.replay)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bench.report import PAGES as RESULTS
from bench.report import headline
from docgen import tutorial
from docgen.pages import PAGES as REFERENCE

DOCS = Path(__file__).resolve().parents[1] / "docs"


README = DOCS.parent / "README.md"
HEADLINE = re.compile(r"(<!-- headline:[^\n]*-->\n).*?(<!-- /headline -->)", re.S)


def generated() -> dict[str, str]:
    """{path under docs/ (../README.md for the front door): its text}."""
    pages = {path: make() for path, make in {**REFERENCE, **RESULTS}.items()}
    pages["getting-started.md"] = tutorial.page()
    for guide in sorted(DOCS.rglob("*.md")):  # the guides' output blocks from the same runs
        text = guide.read_text()
        if "<!-- output: " in text:
            pages[str(guide.relative_to(DOCS))] = tutorial.fill(text)
    table = headline()
    readme = HEADLINE.sub(lambda m: f"{m[1]}{table}\n{m[2]}", README.read_text())
    return {**pages, "../README.md": readme}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m docgen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args()
    stale = []
    for path, text in generated().items():
        target = DOCS / path
        if args.check:
            if not target.is_file() or target.read_text() != text:
                stale.append(path)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target.resolve().relative_to(DOCS.parent)}")
    if args.check:
        for line in tutorial.replay():
            stale.append(f"getting-started.md shows a line the code no longer prints: {line}")
    if stale:
        print(f"stale: {', '.join(stale)}; run python -m docgen", file=sys.stderr)
        print(
            "(a changed output: python -m docgen.tutorial, then python -m docgen)", file=sys.stderr
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
