"""Plain values: nested configs as dotted keys (trainer.steps), the way users type
them, and what counts as a number."""

from __future__ import annotations

from typing import Any


def flat(values: dict[str, Any], nodes: bool = False, prefix: str = "") -> dict[str, Any]:
    """{dotted key: value} of a nested dict's leaves (lists are leaves); with `nodes`, the
    inner nodes too, as keys whose value is their dict."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if nodes:
                out[name] = value
            out |= flat(value, nodes, f"{name}.")
        else:
            out[name] = value
    return out


def is_number(value: Any) -> bool:
    """An int or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)
