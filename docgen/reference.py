"""The config reference, from the code: every key of every composed config (the default
one and each option of the groups users pick), with its type and allowed values (the
typed schema), its default under each option, and its meaning (conf/'s comments, or the
`Args:` of the class that reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.utils import get_class
from omegaconf import OmegaConf

from docgen.comments import args_lines, yaml_comments
from gan_cli.config.compose import compose_config, config_dir, config_groups
from gan_cli.config.schema import describe, key_specs
from gan_cli.core.params import Param

# The groups a user picks, composed one option at a time over the default config.
PICKED = ("data", "model", "loss", "loss/objective", "loss/constraint", "logger")


@dataclass
class Key:
    """One config key across the composed configs."""

    name: str
    allowed: str = ""
    defaults: dict[str, list[str]] = field(default_factory=dict)  # value -> the options giving it
    meaning: str = ""

    @property
    def wiring(self) -> bool:
        """A key whose value is another key's (${model.z_dim}): plumbing."""
        return all(v.startswith("${") for v in self.defaults)


def variants() -> dict[str, list[str]]:
    """{label: overrides}: the default config, and each option of each picked group."""
    groups = config_groups()
    out = {"default": []}
    for group in PICKED:
        for option in groups[group]:
            key = group.replace("/", ".") if group.startswith("loss/") else group
            out[f"{key}={option}"] = [f"{key}={option}"]
    out["+boost=adagan"] = ["+boost=adagan"]
    return out


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """{full key: leaf value} of a plain nested dict; an empty dict or list is a leaf."""
    if isinstance(node, dict) and node:
        out = {}
        for k, v in node.items():
            out |= flatten(v, f"{prefix}{k}.")
        return out
    return {prefix.rstrip("."): node}


def show(value: Any) -> str:
    """A value as it is typed on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(show(v) for v in value) + "]"
    if value == "???":
        return "required"
    if value == "":
        return '""'
    return str(value)


def composed(overrides: list[str]) -> tuple[dict[str, Any], dict[str, Param]]:
    """The config `gan-train OVERRIDES --cfg job` prints, flattened, with the keys the
    schema adds (their defaults declared in code); and what the schema says of each key."""
    cfg = compose_config(overrides)
    values = flatten(OmegaConf.to_container(cfg, resolve=False))
    specs = key_specs(cfg)
    for name, param in specs.items():
        if name not in values and not any(k.startswith(f"{name}.") for k in values):
            values[name] = param.default
    return values, specs


def keys() -> dict[str, Key]:
    """Every key of every variant, in the order of the default config."""
    found: dict[str, Key] = {}
    for label, overrides in variants().items():
        values, specs = composed(overrides)
        for name, value in values.items():
            key = found.setdefault(name, Key(name))
            key.defaults.setdefault(show(value), []).append(label)
            if not key.allowed and name in specs:
                key.allowed = describe(specs[name])
    meanings = _meanings(found)
    for name, key in found.items():
        key.meaning = meanings.get(name, "")
    return found


def _meanings(found: dict[str, Key]) -> dict[str, str]:
    """Each key's line: its comment in conf/, else the Args line of the class reading it
    (a `_target_` says which node it builds)."""
    out = yaml_comments(Path(config_dir()))
    for name in found:
        if name in out:
            continue
        node, _, arg = name.rpartition(".")
        if arg == "_target_":
            out[name] = f"the class `{node}` is built from"
            continue
        for cls in _readers(node, found):
            line = args_lines(cls).get(arg)
            if line:
                out[name] = line
                break
    return out


def _readers(node: str, found: dict[str, Key]) -> list[type]:
    """The classes whose keyword arguments sit in `node` (data, loss, optim.g, ...)."""
    targets = [f"{node}._target_"]
    if node == "loss":
        targets = ["loss.objective._target_", "loss.constraint._target_"]
    classes = []
    for target in targets:
        for value in found.get(target, Key(target)).defaults:
            try:
                classes.append(get_class(value))
            except Exception:  # noqa: BLE001 - a class the docs cannot import is skipped
                continue
    return classes


def missing_meanings(found: dict[str, Key]) -> list[str]:
    return [name for name, key in found.items() if not key.meaning and not key.wiring]
