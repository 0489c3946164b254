"""Typed schemas of gan-train's config.

A composed config is merged into its schema, so OmegaConf itself refuses unknown keys,
wrong types and values outside a set, naming the key in full; `typed()` then checks the
ranges a type cannot say, and turns any of these errors into the one line users see.

The trainer, logger and metrics nodes are declared here (train.yaml holds their
defaults and says why). The data, model and loss nodes are read from the signatures of
the classes the config names (see gan_cli.core.params): a parameter's type, range and
default are declared once, where the parameter is used.
"""

from __future__ import annotations

import enum
import json
import re
import typing
from dataclasses import field, make_dataclass, replace
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from gan_cli.config.targets import target_class
from gan_cli.constraints import CONSTRAINTS
from gan_cli.core.errors import UserError, did_you_mean, one_line
from gan_cli.core.params import (
    AT_LEAST_0,
    COUNT,
    POSITIVE_INT,
    RUNTIME,
    Annotated,
    Check,
    OneOf,
    Param,
    at_least,
    registered_name,
    signature_params,
    split_annotation,
)
from gan_cli.doctor import RULES
from gan_cli.losses import OBJECTIVES
from gan_cli.models.conditional import CONDITIONAL

DEVICES = ("auto", "cpu", "cuda", "mps")
RULE_NAMES = "|".join(RULES)


class MayChange:
    """Marks a key a resumed run may change: how long it runs and what it reports, not
    what it trains (data, model, loss, optimizers, seed, precision, EMA)."""


MAY_CHANGE = MayChange()
# whole nodes a resumed run may change (what it reports, and when the doctor stops it)
MAY_CHANGE_NODES = ("logger", "metrics", "doctor", "optimize")


class Trainer:
    steps: Annotated[int, POSITIVE_INT, MAY_CHANGE]
    seed: int
    device: Annotated[str, OneOf(DEVICES), MAY_CHANGE]
    log_every: Annotated[int, at_least(0, "an integer"), MAY_CHANGE]  # 0: only at the end
    sample_every: Annotated[int, at_least(0, "an integer"), MAY_CHANGE]
    eval_every: Annotated[int, at_least(0, "an integer"), MAY_CHANGE]
    ckpt_every: Annotated[int, at_least(0, "an integer"), MAY_CHANGE]
    keep_checkpoints: Annotated[int, COUNT, MAY_CHANGE]
    resume: Annotated[Optional[str], MAY_CHANGE]  # noqa: UP045 - OmegaConf reads typing.Optional
    nan_policy: Annotated[str, OneOf(("stop", "skip")), MAY_CHANGE]
    precision: Annotated[str, Check(lambda v: v in ("32", "bf16"), "one of 32|bf16")]
    compile: Annotated[bool, MAY_CHANGE]
    ema_decay: Annotated[float, Check(lambda v: 0 <= v < 1, "a number in [0, 1)")]
    threads: Annotated[Optional[int], POSITIVE_INT, MAY_CHANGE] = None  # noqa: UP045


def may_change() -> tuple[str, ...]:
    """The keys (and nodes, ending in a dot) a resumed run may change."""
    hints = typing.get_type_hints(Trainer, include_extras=True)
    marked = [
        f"trainer.{name}"
        for name, hint in hints.items()
        if MAY_CHANGE in getattr(hint, "__metadata__", ())
    ]
    return (*marked, *(f"{node}." if node != "optimize" else node for node in MAY_CHANGE_NODES))


class Logger:  # logger=none sets only the mode
    mode: Annotated[Optional[str], OneOf(("online", "offline", "disabled"))] = None  # noqa: UP045
    project: Optional[str] = None  # noqa: UP045
    entity: Optional[str] = None  # noqa: UP045
    group: Optional[str] = None  # noqa: UP045
    tags: Any = ()  # a list of tags, or one tag as a plain string (logger.tags=toy)
    trackers: Any = None  # {wandb|tensorboard|mlflow: true}: the logger options chosen
    tracking_uri: Optional[str] = None  # noqa: UP045 - MLflow's server or store


class Metrics:
    eval: Optional[list[str]]  # noqa: UP045 - the registry checks the names
    fid: bool
    n_samples: Annotated[int, at_least(2, "an integer")]
    reference: Annotated[str, OneOf(("test", "train"))]
    inception_weights: Optional[str]  # noqa: UP045
    classifier_steps: Annotated[int, POSITIVE_INT]
    prdc_k: Annotated[int, POSITIVE_INT]
    stacked_samples: Annotated[int, POSITIVE_INT]


class Model:  # besides each model's own knobs (z_dim, ...): class conditioning, the draw
    conditional: CONDITIONAL  # none|projection|acgan (gan_cli.models.conditional)
    acgan_weight: Annotated[float, AT_LEAST_0]  # of the auxiliary classifier's loss
    arch_seed: Optional[int] = None  # noqa: UP045 - the architecture study's draw (config.checks)


class Loss:
    n_critic: Annotated[int, POSITIVE_INT]
    critic_warmup: bool = False
    pack: Annotated[int, POSITIVE_INT] = 1  # PacGAN: samples the critic sees at once
    unroll: Annotated[int, COUNT] = 0  # unrolled GAN: simulated critic steps in G's update


class Optim:  # optim.g and optim.d are any optimizer's `_target_` node
    g: dict[str, Any]
    d: dict[str, Any]
    r: Optional[dict[str, Any]] = None  # noqa: UP045 - the reconstructor's (loss=ali|veegan)
    schedule: Annotated[str, OneOf(("constant", "linear"))] = "constant"


def _rule_names(names: Any) -> bool:
    return all(n in RULES for n in names)


class Doctor:  # the doctor's rules during training (gan_cli.doctor); the defaults here are
    # train.yaml's, for the configs of runs trained before the doctor (their checkpoints)
    enabled: bool = True
    stop: Annotated[
        list[str], Check(_rule_names, "a list of the doctor's rules: " + RULE_NAMES)
    ] = []
    patience: Annotated[int, POSITIVE_INT] = 2


class Boost:  # +boost=adagan (conf/boost/adagan.yaml says what each key does)
    rounds: Annotated[int, POSITIVE_INT]
    beta: Annotated[Optional[float], Check(lambda v: 0 < v < 1, "a number in (0, 1)")] = None  # noqa: UP045
    classifier_steps: Annotated[int, POSITIVE_INT] = 500


def typed(cfg: DictConfig) -> DictConfig:
    """The composed config, typed, resolved and range-checked, as plain values (no
    interpolations, no enums); UserError names the first bad key and what is allowed."""
    template, specs = _schema_of(OmegaConf.to_container(cfg, resolve=False))
    try:
        merged = OmegaConf.merge(template, cfg)
        values = OmegaConf.to_container(
            merged, resolve=True, enum_to_str=True, throw_on_missing=True
        )
    except OmegaConfBaseException as e:
        raise UserError(explain(e, specs)) from e
    plain = OmegaConf.create(values)
    for key in sorted(specs, key=lambda k: k.count(".")):  # a knob before what it feeds
        rule, value = specs[key].rule, OmegaConf.select(plain, key)
        if isinstance(rule, Check) and value is not None and not rule.ok(value):
            raise UserError(f"{key} must be {rule.allowed}, got {value!r}")
    return plain


def key_specs(cfg: DictConfig) -> dict[str, Param]:
    """Every key of this composed config that the schema types: {full key: its Param}."""
    return dict(_schema_of(OmegaConf.to_container(cfg, resolve=False))[1])


def _schema_of(raw: dict) -> tuple[DictConfig, dict[str, Param]]:
    """The schema of a composed config (as a structured config) and its keys' Params,
    made once for each shape of config (the classes it names, the model's knobs and the
    `_target_` nodes that read them, whether it boosts): the jobs of a sweep share theirs."""
    shape = {
        "data": raw["data"].get("_target_"),
        "model": {k: v if isinstance(v, dict) else None for k, v in raw["model"].items()},
        "loss": [raw["loss"][part].get("_target_") for part in ("objective", "constraint")],
        "boost": "boost" in raw,
    }
    key = json.dumps(shape, sort_keys=True, default=str)
    if key not in _SCHEMAS:
        specs: dict[str, Param] = {}
        _SCHEMAS[key] = OmegaConf.structured(_root_schema(raw, specs)), specs
    return _SCHEMAS[key]


_SCHEMAS: dict[str, tuple[DictConfig, dict[str, Param]]] = {}  # by shape, in this process


def explain(e: OmegaConfBaseException, specs: dict[str, Param]) -> str:
    """An OmegaConf error as the one line users see."""
    key = e.full_key or ""
    if isinstance(e, MissingMandatoryValue):
        return f"{key} is required: add {key}=..."
    if isinstance(e, ConfigKeyError):
        return f"{key} is not a config key{did_you_mean(key, list(specs))}"
    if isinstance(e, ValidationError) and key in specs:
        return f"{key} must be {describe(specs[key])}, got {e.value!r}"
    return f"{key}: {one_line(e)}" if key else one_line(e)


def describe(param: Param) -> str:
    """What a key allows, in words."""
    optional = type(None) in getattr(param.type, "__args__", ())
    base = next((t for t in getattr(param.type, "__args__", ()) if t is not type(None)), None)
    base = base if optional else param.type
    if param.rule is not None:
        words = param.rule.allowed
    else:
        words = {bool: "true or false", int: "an integer", float: "a number"}.get(
            base, "a string" if base is str else "a value"
        )
    return f"null or {words}" if optional and not words.startswith("null") else words


# --- building a schema ---------------------------------------------------------------------


def _root_schema(raw: dict, specs: dict[str, Param]) -> type:
    nodes = {
        "trainer": _dataclass("Trainer", _declared(Trainer), "trainer", specs),
        "logger": _dataclass("Logger", _declared(Logger), "logger", specs),
        "metrics": _dataclass("Metrics", _declared(Metrics), "metrics", specs),
        "data": _target_schema(raw["data"], "data", specs),
        "model": _knob_schema(raw["model"], "model", specs, _declared(Model)),
        "loss": _loss_schema(raw["loss"], specs),
        "optim": _dataclass("Optim", _declared(Optim), "optim", specs),
        "doctor": _dataclass("Doctor", _declared(Doctor), "doctor", specs),
    }
    if "boost" in raw:  # +boost=adagan
        nodes["boost"] = _dataclass("Boost", _declared(Boost), "boost", specs)
    fields = [(name, node, field(default_factory=node)) for name, node in nodes.items()]
    fields.append(("optimize", Optional[str], field(default=None)))  # noqa: UP045
    return make_dataclass("GanTrain", fields)


def _declared(cls: type) -> list[Param]:
    """The keys a class above declares (their defaults are in the YAML unless given)."""
    params = []
    for name, hint in typing.get_type_hints(cls, include_extras=True).items():
        kind, rule = split_annotation(hint)
        params.append(Param(name, kind, getattr(cls, name, MISSING), rule))
    return params


def _target_schema(raw: dict, prefix: str, specs: dict[str, Param]) -> type:
    """A `_target_` node: the target's keyword arguments (less what the code passes)."""
    params = signature_params(target_class(raw.get("_target_"), prefix), skip=RUNTIME)
    target = Param("_target_", str, MISSING)
    return _dataclass(_name(prefix), [target, *params], prefix, specs)


def _knob_schema(raw: dict, prefix: str, specs: dict[str, Param], declared: list[Param]) -> type:
    """A node of public knobs (model.z_dim) and the `_target_` nodes that read them
    (generator.z_dim: ${model.z_dim}); a knob has the type of what reads it, or the one
    `declared` here (knobs the code reads itself)."""
    targets = {k: v for k, v in raw.items() if isinstance(v, dict) and "_target_" in v}
    knobs: dict[str, Param] = {p.name: p for p in declared}
    for key, node in targets.items():
        target = target_class(node["_target_"], f"{prefix}.{key}")
        for p in signature_params(target, skip=RUNTIME):
            ref = re.fullmatch(rf"\$\{{{prefix}\.(\w+)\}}", str(node.get(p.name)))
            if ref:
                knobs.setdefault(ref.group(1), replace(p, name=ref.group(1), default=MISSING))
    params = [knobs.get(k, Param(k, Any, MISSING)) for k in raw if k not in targets]
    nested = {k: _target_schema(v, f"{prefix}.{k}", specs) for k, v in targets.items()}
    return _dataclass(_name(prefix), params, prefix, specs, nested)


def _loss_schema(raw: dict, specs: dict[str, Param]) -> type:
    """loss: n_critic and the like, the objective's and the constraint's `_target_`, and
    their parameters, at loss level (loss.gp_lambda)."""
    params, nested = _declared(Loss), {}
    for part, registry in (("objective", OBJECTIVES), ("constraint", CONSTRAINTS)):
        target = target_class(raw[part].get("_target_"), f"loss.{part}")
        params += signature_params(target, skip=RUNTIME)
        name = registered_name(registry, target, part)
        target_only = [Param("_target_", str, MISSING)]  # its parameters sit in loss
        nested[part] = _dataclass(f"{part}_{name}", target_only, f"loss.{part}", specs)
    return _dataclass("Loss", params, "loss", specs, nested)


def _dataclass(
    name: str,
    params: list[Param],
    prefix: str,
    specs: dict[str, Param],
    nested: dict[str, type] | None = None,
) -> type:
    fields = []
    for p in params:
        specs[f"{prefix}.{p.name}"] = p
        kind = _omegaconf_type(p)
        default = p.default
        if isinstance(p.rule, OneOf) and default in p.rule.choices:
            default = _enum(p.rule)[default]
        if isinstance(default, list | dict):
            fields.append((p.name, kind, field(default_factory=lambda d=default: d)))
        else:
            fields.append((p.name, kind, field(default=default)))
    for key, node in (nested or {}).items():
        fields.append((key, node, field(default_factory=node)))
    return make_dataclass(name, fields)


def _omegaconf_type(p: Param) -> Any:
    if not isinstance(p.rule, OneOf):
        return p.type
    members = _enum(p.rule)
    return Optional[members] if type(None) in getattr(p.type, "__args__", ()) else members  # noqa: UP045


_ENUMS: dict[tuple[str, ...], type[enum.Enum]] = {}


def _enum(rule: OneOf) -> type[enum.Enum]:
    if rule.choices not in _ENUMS:
        _ENUMS[rule.choices] = enum.Enum("Choice", {c: c for c in rule.choices})
    return _ENUMS[rule.choices]


def _name(prefix: str) -> str:
    return prefix.replace(".", "_").title()
