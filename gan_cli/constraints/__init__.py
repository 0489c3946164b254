"""How the critic is kept in check: hooks that do nothing by default (see base.Constraint).

Every module of this package is imported here, so each constraint's `@register` runs:
adding a constraint is adding a file.
"""

import importlib
import pkgutil

from gan_cli.constraints.base import CONSTRAINTS, Constraint, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["CONSTRAINTS", "Constraint", "register"]
