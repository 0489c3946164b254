"""The one kind of error users see: `UserError`, whose message is the one line printed.

Every module may raise it (a leaf never imports `config` for it), and the commands turn
it into `gan-train: error: ...` with exit status 2.
"""

from __future__ import annotations

import difflib


class UserError(Exception):
    """A mistake in the user's input; its message is the one line the user sees."""


def one_line(e: BaseException) -> str:
    """The first non-empty line of an exception's message, or its type's name."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__


def did_you_mean(key: str, known: list[str], by_name: bool = False) -> str:
    """'; did you mean trainer.steps?' for the nearest known key, or ''. With `by_name`,
    keys of one node are compared by their last part (loss.clip is not near loss.pack
    just because both start with loss.)."""
    if by_name:
        names = {k.rsplit(".", 1)[-1]: k for k in known}
        near = difflib.get_close_matches(key.rsplit(".", 1)[-1], list(names), n=1, cutoff=0.6)
        return f"; did you mean {names[near[0]]}?" if near else ""
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean {near[0]}?" if near else ""
