"""GAN objectives: pure math on raw discriminator outputs (see base.Objective).

Every module of this package is imported here, so each objective's `@register` runs:
adding an objective is adding a file.
"""

import importlib
import pkgutil

from gan_cli.losses.base import OBJECTIVES, Objective, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["OBJECTIVES", "Objective", "register"]
