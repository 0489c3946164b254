"""gan-cli: a command-line experiment runner for generative adversarial networks.

The Python API (gan_cli.api) is imported on first use, so `import gan_cli` stays cheap:
torch, Hydra's app and W&B load when `gan_cli.load`, `gan_cli.train` or
`gan_cli.evaluate` is first called (`gan_cli.diagnose` reads run folders without them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Generator", "Trained", "UserError", "diagnose", "evaluate", "load", "train"]

if TYPE_CHECKING:
    from gan_cli.api import Generator, Trained, evaluate, load, train
    from gan_cli.core.errors import UserError
    from gan_cli.doctor.report import diagnose


def __getattr__(name: str) -> Any:
    if name == "UserError":  # the one exception the API raises for a user's mistake
        return importlib.import_module("gan_cli.core.errors").UserError
    if name == "diagnose":  # reads run folders only: no torch
        return importlib.import_module("gan_cli.doctor.report").diagnose
    if name in __all__:
        return getattr(importlib.import_module("gan_cli.api"), name)
    raise AttributeError(f"module 'gan_cli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
