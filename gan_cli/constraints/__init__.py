"""How the critic is kept in check: hooks that do nothing by default (see base.Constraint)."""

from gan_cli.constraints.base import Constraint

__all__ = ["Constraint"]
