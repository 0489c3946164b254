"""A generator that travels: written as a `torch.export` program (`.pt2`), which runs in
any Python with torch and without gan-cli, and as safetensors weights with a JSON
description beside them, which `gan_cli.load` reads back.

    PATH.pt2          torch.export.load(PATH).module()(z) or (z, y): samples in data space
    PATH.safetensors  the generator's state_dict (the EMA weights where the run kept them)
    PATH.json         what the weights are: the run's config, z_dim, the classes, the inputs

The program takes latents z (B, z_dim) float32 and, for a class-conditional generator,
class indices y (B,) int64; B is free. It computes exactly what the generator does: the
same latents give the same samples as gan-sample's samples.npz.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_cli.core.atomic import atomic_write
from gan_cli.core.errors import UserError, one_line

FORMAT = "gan-cli generator"
VERSION = 1


def export_paths(path: str | Path) -> tuple[Path, Path, Path]:
    """(.pt2, .safetensors, .json) for an export path, which must end in .pt2."""
    p = Path(path)
    if p.suffix != ".pt2":
        raise UserError(f"export={path}: name a .pt2 file (its .safetensors and .json go beside)")
    return p, p.with_suffix(".safetensors"), p.with_suffix(".json")


def export_generator(
    G: nn.Module, config: dict[str, Any], classes: dict[str, Any] | None, path: str | Path
) -> list[Path]:
    """Write G (in eval mode) as PATH.pt2, PATH.safetensors and PATH.json; returns them.
    `classes` is the checkpoint's record of a conditional generator's classes."""
    from safetensors.torch import save

    program_path, weights_path, about_path = export_paths(path)
    if hasattr(G, "components"):
        raise UserError(
            "export: an AdaGAN mixture draws each sample's component inside; export the run "
            "of one round instead (its folder under the AdaGAN run)"
        )
    G = G.to("cpu").eval()
    program_path.parent.mkdir(parents=True, exist_ok=True)
    z = torch.zeros(2, G.z_dim)
    args: tuple = (z,) if classes is None else (z, torch.zeros(2, dtype=torch.long))
    batch = torch.export.Dim.DYNAMIC
    try:
        with torch.no_grad():
            program = torch.export.export(G, args, dynamic_shapes=tuple({0: batch} for _ in args))
    except Exception as e:  # an architecture torch.export cannot trace
        raise UserError(
            f"export: torch.export could not trace this generator: {one_line(e)}"
        ) from e
    with atomic_write(program_path) as f:
        torch.export.save(program, f)
    weights = {k: v.detach().contiguous() for k, v in G.state_dict().items()}
    with atomic_write(weights_path) as f:
        f.write(save(weights))
    about = {
        "format": FORMAT,
        "version": VERSION,
        "z_dim": G.z_dim,
        "inputs": ["z (B, z_dim) float32"] + ([] if classes is None else ["y (B,) int64"]),
        "classes": classes,
        "config": config,
    }
    with atomic_write(about_path, "w") as f:
        f.write(json.dumps(about, indent=2) + "\n")
    return [program_path, weights_path, about_path]


def read_export(path: Path) -> dict[str, Any]:
    """The JSON beside an exported generator's safetensors file."""
    about_path = path.with_suffix(".json")
    try:
        about = json.loads(about_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: no readable {about_path.name} beside it ({one_line(e)})") from e
    if about.get("format") != FORMAT:
        raise UserError(f"{about_path} does not describe a gan-cli generator")
    return about


def load_weights(G: nn.Module, path: Path) -> nn.Module:
    """G with the weights of an exported safetensors file."""
    from safetensors.torch import load_file

    try:
        G.load_state_dict(load_file(str(path)))
    except Exception as e:  # not a safetensors file, or another generator's weights
        raise UserError(
            f"{path}: not weights of the generator its {path.with_suffix('.json').name} "
            f"describes ({one_line(e)[:200]})"
        ) from e
    return G
