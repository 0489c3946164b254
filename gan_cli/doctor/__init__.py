"""The doctor: rules that read a run's scalars and name what went wrong, with the
evidence and the remedies (gan-doctor, gan_cli.diagnose, and the checks during
training). Pure Python: reading a run needs neither torch nor numpy."""

from gan_cli.doctor import rules as _rules  # noqa: F401 - registers the rules
from gan_cli.doctor.base import RULES, Finding, Healthy, Remedy, Scalars, Unchecked, judge

__all__ = ["RULES", "Finding", "Healthy", "Remedy", "Scalars", "Unchecked", "judge"]
