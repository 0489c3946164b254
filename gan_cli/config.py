"""Config plumbing: where the configs live, checks of user input, and the one helper
that turns `_target_` nodes into objects.

Bad input is answered by `UserError`: one line naming the key and what is allowed.
The command line is checked before Hydra starts a run, so a mistake leaves no run
folder behind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, InstantiationException, OverrideParseException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_cli.data.toy2d import DISTRIBUTIONS
from gan_cli.losses.fgan import DIVERGENCES
from gan_cli.models.common import NORMS

CONFIG_NAME = "train"
DEVICES = ("auto", "cpu", "cuda", "mps")
LOGGER_MODES = ("online", "offline", "disabled")


class UserError(Exception):
    """A mistake in the user's input; its message is the one line the user sees."""


def config_dir() -> str:
    """The config folder: packaged in a wheel as gan_cli/conf, else the top-level conf/."""
    packaged = Path(__file__).resolve().parent / "conf"
    return str(packaged if packaged.is_dir() else packaged.parent.parent / "conf")


def build(node: DictConfig, **kwargs: Any) -> Any:
    """Instantiate a `_target_` node, passing `kwargs` the config cannot know (shapes, device)."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as e:
        key = node._get_full_key(None) or "config"
        raise UserError(f"{key}: {one_line(e.__cause__ or e)}") from e


# --- value checks ---------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _one_of(choices: Iterable[Any]) -> tuple[Callable[[Any], bool], str]:
    choices = tuple(choices)
    return (lambda v: v in choices), "one of " + "|".join(map(str, choices))


# key -> (check, what is allowed). A key absent from the composed config is not checked:
# each data/model/loss option has its own keys.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "trainer.steps": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "trainer.seed": (_is_int, "an integer"),
    "trainer.device": _one_of(DEVICES),
    **{
        f"trainer.{k}_every": (
            lambda v: _is_int(v) and v >= 0,
            "an integer >= 0 (0: only at the end)",
        )
        for k in ("log", "sample", "eval", "ckpt")
    },
    "trainer.resume": (
        lambda v: v is None or isinstance(v, str),
        "null, auto or the path of a checkpoint or run folder",
    ),
    "trainer.keep_checkpoints": (
        lambda v: _is_int(v) and v >= 0,
        "an integer >= 0 (0 keeps every periodic checkpoint)",
    ),
    "trainer.nan_policy": _one_of(("stop", "skip")),
    "trainer.precision": (lambda v: str(v) in ("32", "bf16"), "one of 32|bf16"),
    "trainer.compile": (lambda v: isinstance(v, bool), "true or false"),
    "trainer.ema_decay": (
        lambda v: _is_number(v) and 0 <= v < 1,
        "a number in [0, 1) (0: no EMA generator)",
    ),
    "data.batch_size": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "data.heldout_size": (lambda v: _is_int(v) and v > 1, "an integer > 1"),
    "data.distribution": _one_of(DISTRIBUTIONS),
    "data.download": (lambda v: isinstance(v, bool), "true or false"),
    "data.image_size": (lambda v: _is_int(v) and v >= 8, "an integer >= 8"),
    "data.channels": _one_of((1, 3)),
    "model.g_channels": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "model.d_channels": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "model.d_norm": _one_of(NORMS),
    "model.z_dim": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "model.hidden_dim": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "model.n_layers": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "loss.n_critic": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "loss.gp_lambda": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "loss.saturating": (lambda v: isinstance(v, bool), "true or false"),
    "loss.clip": (lambda v: _is_number(v) and v > 0, "a positive number"),
    "loss.critic_warmup": (lambda v: isinstance(v, bool), "true or false"),
    "loss.divergence": _one_of(DIVERGENCES),
    "optim.g.lr": (lambda v: _is_number(v) and v > 0, "a positive number"),
    "optim.d.lr": (lambda v: _is_number(v) and v > 0, "a positive number"),
    "metrics.fid": (lambda v: isinstance(v, bool), "true or false"),
    "metrics.n_samples": (lambda v: _is_int(v) and v > 1, "an integer > 1"),
    "metrics.reference": _one_of(("test", "train")),
    "optimize": (lambda v: v is None or isinstance(v, str), "null or a metric name"),
    "logger.mode": (
        lambda v: v is None or v in LOGGER_MODES,
        "one of null|" + "|".join(LOGGER_MODES),
    ),
}


def validate(cfg: DictConfig) -> None:
    """Check every known value of a composed config; raise UserError on the first bad one."""
    try:
        values = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as e:
        raise UserError(one_line(e)) from e
    for key, (ok, allowed) in RULES.items():
        value = _lookup(values, key)
        if value is not _ABSENT and not ok(value):
            raise UserError(f"{key} must be {allowed}, got {value!r}")
    resolve_device(cfg.trainer.device)
    resume = values["trainer"].get("resume")
    if resume not in (None, "auto") and not Path(resume).exists():
        raise UserError(f"trainer.resume={resume}: no such checkpoint or run folder")
    _check_model_fits_data(values)
    data_cls = get_class(values["data"]["_target_"])
    if hasattr(data_cls, "prepare"):  # files present (downloaded if allowed), or one line
        data_cls.prepare(**_arguments(values["data"]))
    for side in ("g", "d"):  # build each optimizer on a dummy parameter: bad arguments fail here
        try:
            build(cfg.optim[side])([torch.zeros(1, requires_grad=True)])
        except (TypeError, ValueError) as e:
            raise UserError(f"optim.{side}: {one_line(e)}") from e


def _check_model_fits_data(values: dict) -> None:
    """Stop a model/data pairing that cannot work, naming which models fit which data."""
    shape = get_class(values["data"]["_target_"]).sample_shape(**_arguments(values["data"]))
    models = {}  # option name -> module of its generator
    for name in config_groups()["model"]:
        target = OmegaConf.load(Path(config_dir()) / "model" / f"{name}.yaml").generator._target_
        models[name] = importlib.import_module(target.rsplit(".", 1)[0])
    chosen = values["model"]["generator"]["_target_"].rsplit(".", 1)[0]
    module = importlib.import_module(chosen)
    if values["metrics"]["fid"] and len(shape) != 3:
        raise UserError(
            f"metrics.fid=true needs image data; this data has samples of shape {shape}"
        )
    weights = values["metrics"]["inception_weights"]
    if weights is not None and not Path(weights).is_file():
        raise UserError(f"metrics.inception_weights={weights} is not a file")
    if not module.fits(shape):
        model = next((n for n, m in models.items() if m is module), chosen)
        fit = "; ".join(f"model={n} fits {m.FITS}" for n, m in models.items())
        raise UserError(f"model={model} does not fit this data (samples of shape {shape}): {fit}")


def _arguments(node: dict) -> dict:
    return {k: v for k, v in node.items() if k != "_target_"}


def resolve_device(name: str, key: str = "trainer.device") -> torch.device:
    """auto picks cuda, then mps, then cpu; an explicit device must be available."""
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if not available.get(name, False):
        usable = ", ".join(["auto"] + [d for d, ok in available.items() if ok])
        raise UserError(f"{key}={name} is not available on this machine; use one of {usable}")
    return torch.device(name)


# --- command-line checks --------------------------------------------------------------------


def check_command_line(args: list[str]) -> list[str]:
    """Check gan-train's arguments before Hydra starts a run; raise UserError if one is wrong.

    Checks group options (`loss=foo`), key names (`trainer.stpes=1`) and, for a single run,
    every value of the composed config. Sweeps (-m) get the group and key checks; their
    values are checked by each job. Returns the arguments to hand to Hydra, with choices
    of nested groups spelled as Hydra wants them (see `spell_group_choices`).
    """
    parsed = get_args_parser().parse_args(args)
    if any(
        getattr(parsed, flag)
        for flag in ("help", "hydra_help", "info", "shell_completion", "experimental_rerun")
    ) or (parsed.config_name or parsed.config_dir or parsed.config_path):
        return args  # not a training run, or a config tree we do not know
    spelled = dict(zip(parsed.overrides, spell_group_choices(parsed.overrides), strict=True))
    typed = {line: original.split("=", 1)[0] for original, line in spelled.items()}
    overrides = [o for o in _parse(list(spelled.values())) if not o.is_hydra_override()]
    groups = config_groups()
    choices = [o for o in overrides if o.key_or_group in groups]
    for o in choices:
        if not o.is_delete():
            for value in o.sweep_string_iterator() if o.is_sweep_override() else [o.value()]:
                if value not in groups[o.key_or_group]:
                    key = typed[o.input_line]
                    options = "|".join(groups[o.key_or_group])
                    raise UserError(f"{key}={value} is not an option; choose one of {options}")
    if not parsed.multirun:
        keys = [o for o in overrides if o not in choices and not (o.is_add() or o.is_force_add())]
        values = OmegaConf.to_container(compose_config([o.input_line for o in choices]))
        for o in keys:
            _check_key_exists(values, o.key_or_group)
        validate(compose_config([o.input_line for o in overrides]))
    return [spelled.get(a, a) for a in args]


def spell_group_choices(overrides: list[str]) -> list[str]:
    """Let a choice of a group nested in a preset be written as a key.

    A preset picks its objective and constraint from the groups loss/objective and
    loss/constraint into the keys loss.objective and loss.constraint; Hydra spells that
    choice `loss/objective=hinge`; users may write `loss.objective=hinge` as well.
    """
    groups = config_groups()
    spelled = []
    for line, o in zip(overrides, _parse(overrides), strict=True):
        group = o.key_or_group.replace(".", "/")
        if "." in o.key_or_group and group in groups and not (o.is_delete() or o.is_add()):
            line = f"{group}={line.split('=', 1)[1]}"
        spelled.append(line)
    return spelled


def _parse(overrides: list[str]) -> list[Override]:
    try:
        return OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as e:
        raise UserError(f"cannot parse {e.override!r}: {one_line(e)}") from e


def compose_config(overrides: list[str], hydra: bool = False) -> DictConfig:
    """Compose gan-train's config with these overrides (no run, no Hydra run folder);
    with `hydra`, the `hydra` node as well."""
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            return compose(
                config_name=CONFIG_NAME,
                overrides=spell_group_choices(overrides),
                return_hydra_config=hydra,
            )
    except (HydraException, OmegaConfBaseException) as e:
        raise UserError(one_line(e)) from e


def config_groups() -> dict[str, list[str]]:
    """Every config group (nested ones as loss/objective) and its options."""
    root = Path(config_dir())
    folders = sorted(d for d in root.rglob("*") if d.is_dir())
    return {
        d.relative_to(root).as_posix(): sorted(p.stem for p in d.glob("*.yaml")) for d in folders
    }


def _check_key_exists(values: dict, key: str) -> None:
    parts = key.split(".")
    for i, part in enumerate(parts):
        parent = _lookup(values, ".".join(parts[:i])) if i else values
        if not isinstance(parent, dict) or part not in parent:
            where = ".".join(parts[:i]) or "the config"
            known = "|".join(parent) if isinstance(parent, dict) else "no keys"
            raise UserError(f"{key} is not a config key ({where} has {known}); add it with +{key}=")


_ABSENT = object()


def _lookup(values: dict, key: str) -> Any:
    node: Any = values
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def one_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__
