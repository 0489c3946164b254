"""The class a `_target_` names, or one line naming the key: the config's one way from
a dotted path to code (hydra.utils.get_class would print its own error lines first)."""

from __future__ import annotations

import importlib
from typing import Any

from gan_cli.core.errors import UserError


def target_class(target: Any, key: str) -> Any:
    """The class a `_target_` names (or a function, with `functions`), or one line naming
    the key. (hydra.utils.get_class would print its own error lines first.)"""
    try:
        found = _locate(str(target))
    except (ImportError, AttributeError, ValueError) as e:
        raise UserError(f"{key}._target_={target} is not a class gan-cli can import") from e
    if not callable(found):
        raise UserError(f"{key}._target_={target} is not a class gan-cli can import")
    return found


def _locate(path: str) -> Any:
    """The object a dotted path names (`torch.optim.Adam`): the longest prefix that
    imports as a module, then attributes of it."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:end]))
        except ModuleNotFoundError:
            continue
        for name in parts[end:]:
            found = getattr(found, name)
        return found
    raise ImportError(f"no module in {path!r}")
