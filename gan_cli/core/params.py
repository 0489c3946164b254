"""A parameter's type, default and allowed values, declared once, where it is used.

Constructors of data sources, models, objectives and constraints annotate their keyword
arguments, e.g. `gp_lambda: Annotated[float, AT_LEAST_0] = 10.0`; the config schema
(`gan_cli.config.schema`) is read from these signatures, so OmegaConf types each key and the
range checks below say what is allowed. Values outside a fixed set are `OneOf`, which
the schema turns into an enum.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Unpack

from omegaconf import MISSING

# constructor arguments the code passes itself (shapes, seed, device), never the config
RUNTIME = ("seed", "device", "out_shape", "in_shape", "bounded", "conditional", "n_classes")

__all__ = [
    "RUNTIME",
    "Annotated",
    "Check",
    "OneOf",
    "Param",
    "registered_name",
    "registrar",
    "signature_params",
]


@dataclass(frozen=True)
class Check:
    """A rule a value must follow, and how to say what is allowed."""

    ok: Callable[[Any], bool]
    allowed: str


@dataclass(frozen=True)
class OneOf:
    """A value from a fixed set (an enum in the schema)."""

    choices: tuple[str, ...]

    def __init__(self, choices: Iterable[str]) -> None:
        object.__setattr__(self, "choices", tuple(choices))

    @property
    def allowed(self) -> str:
        return "one of " + "|".join(self.choices)


def at_least(low: float, kind: str = "a number") -> Check:
    return Check(lambda v: v >= low, f"{kind} >= {low:g}")


POSITIVE_INT = Check(lambda v: v > 0, "a positive integer")
POSITIVE = Check(lambda v: v > 0, "a positive number")
AT_LEAST_0 = at_least(0)
COUNT = at_least(0, "an integer")  # 0 allowed: "none", "only at the end", "keep all"


@dataclass(frozen=True)
class Param:
    """One keyword argument: name, type (Annotated stripped), default, rule."""

    name: str
    type: Any
    default: Any
    rule: Check | OneOf | None = None


def split_annotation(hint: Any) -> tuple[Any, Check | OneOf | None]:
    """`Annotated[T, rule]` -> (T, rule); T -> (T, None)."""
    if typing.get_origin(hint) is Annotated:
        base, *extras = typing.get_args(hint)
        rule = next((e for e in extras if isinstance(e, Check | OneOf)), None)
        return base, rule
    return hint, None


def signature_params(fn: Callable, skip: Iterable[str] = ()) -> list[Param]:
    """The keyword arguments of `fn` (a class: its constructor), less `skip`: those the
    code passes itself (shapes, seed, device)."""
    target = fn.__init__ if inspect.isclass(fn) else fn
    hints = typing.get_type_hints(target, include_extras=True)
    params = []
    for p in inspect.signature(target).parameters.values():
        if p.kind is p.VAR_KEYWORD and typing.get_origin(hints.get(p.name)) is Unpack:
            # **options: Unpack[Options]: the keyword arguments a dataclass declares
            (group,) = typing.get_args(hints[p.name])
            params += [q for q in _fields(group) if q.name not in skip]
            continue
        if p.name in ("self", *skip) or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        base, rule = split_annotation(hints.get(p.name, Any))
        default = p.default if p.default is not inspect.Parameter.empty else MISSING
        params.append(Param(p.name, base, default, rule))
    return params


def _fields(group: type) -> list[Param]:
    """The fields of a dataclass of keyword arguments, as Params."""
    hints = typing.get_type_hints(group, include_extras=True)
    out = []
    for f in dataclasses.fields(group):
        base, rule = split_annotation(hints[f.name])
        out.append(Param(f.name, base, f.default, rule))
    return out


def registrar(registry: dict[str, Any], what: str) -> Callable[[str], Callable]:
    """`register(name)`, the decorator that makes a class the option `name` of
    loss.<what>. Its constructor's keyword arguments become keys of `loss`
    (loss.gp_lambda, ...), typed and ranged by their annotations."""

    def register(name: str) -> Callable:
        def add(cls: Any) -> Any:
            registry[name] = cls
            return cls

        return add

    register.__doc__ = f"Make a class the option loss.{what}=name (see params.registrar)."
    return register


def registered_name(registry: dict[str, Any], target: Any, default: str | None = None) -> str:
    """The name a class is registered under (loss.objective=hinge for Hinge)."""
    found = next((name for name, cls in registry.items() if cls is target), default)
    if found is None:
        raise KeyError(f"{target!r} is not registered")
    return found
