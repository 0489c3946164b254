"""gan-sample: samples from a gan-train checkpoint, with no dataset and no training code.

    gan-sample checkpoint=outputs/2026-11-21/10-00-00                 # 64 samples of the run
    gan-sample checkpoint=outputs/2026-11-21/10-00-00/checkpoints/last.pt n=1000 out=samples/
    gan-sample checkpoint=RUN n=50000 batch_size=500 images=false     # a large npz only
    gan-sample checkpoint=RUN interpolate=8                           # 8 rows of slerp paths
    gan-sample checkpoint=RUN seed=1 device=cpu ema=false
    gan-sample checkpoint=RUN n=10000 metrics=true                    # FID/KID (needs the data)

The generator is rebuilt from the config stored in the checkpoint. `out` (default:
generated/ in the run folder) receives samples.npz (x: samples in data space, float32;
z: their latents), images/000000.png ... and grid.png for images, scatter.png for 2-D
points, and interpolation.png with interpolate=K.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor, nn

from gan_cli.checkpoint import find_checkpoint, read_checkpoint
from gan_cli.config import UserError, resolve_device
from gan_cli.console import console, err_console
from gan_cli.plots import image_grid, toy_scatter


@dataclass
class Args:
    """gan-sample's options (key=value on the command line)."""

    checkpoint: str = ""  # required: a checkpoint file, or a run folder (its checkpoints/last.pt)
    n: int = 64  # samples to draw
    out: str | None = None  # default: generated/ in the run folder
    seed: int = 0  # same checkpoint and seed: byte-identical samples.npz on the same machine
    batch_size: int = 256  # samples generated at once
    device: str = "auto"  # auto|cpu|cuda|mps
    interpolate: int = 0  # K > 0: interpolation.png, K rows of spherical interpolations
    ema: bool = True  # use the averaged generator when the checkpoint holds one
    images: bool = True  # one PNG per image sample (images/000000.png ...)
    metrics: bool = False  # FID/KID of the samples against the run's data (needs its files)
    inception_weights: str | None = None  # for metrics: default, the run's metrics setting


def parse(argv: list[str]) -> Args:
    """key=value arguments -> Args; one clear line for anything else."""
    schema = OmegaConf.structured(Args)
    options = list(schema.keys())
    for arg in argv:
        if "=" not in arg:
            raise UserError(f"{arg!r} is not an option: write key=value, see gan-sample --help")
        key = arg.split("=", 1)[0]
        if key not in options:
            raise UserError(f"unknown option {key!r}; options: {'|'.join(options)}")
    try:
        args = OmegaConf.to_object(OmegaConf.merge(schema, OmegaConf.from_dotlist(argv)))
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", "") or ""
        raise UserError(f"bad value for {key or 'an option'}: {_first_line(e)}") from e
    if not args.checkpoint:
        raise UserError("checkpoint=PATH is required: a checkpoint file or a run folder")
    for key, low in (("n", 1), ("batch_size", 1), ("interpolate", 0)):
        if getattr(args, key) < low:
            raise UserError(f"{key} must be an integer >= {low}, got {getattr(args, key)}")
    return args


def rebuild_generator(state: dict[str, Any], ema: bool, device: torch.device) -> nn.Module:
    """The generator from the checkpoint's config and weights (the EMA ones if present)."""
    cfg = state["config"]
    data = {k: v for k, v in cfg["data"].items() if k != "_target_"}
    shape = get_class(cfg["data"]["_target_"]).sample_shape(**data)
    G = instantiate(OmegaConf.create(cfg["model"]["generator"]), out_shape=shape)
    weights = state["generator_ema"] if ema and "generator_ema" in state else state["generator"]
    try:
        G.load_state_dict(weights)
    except RuntimeError as e:
        raise UserError(
            "the checkpoint's generator weights do not fit the generator its config describes "
            f"(written by another version of gan-cli?): {_first_line(e)}"
        ) from e
    return G.to(device).eval()


@torch.no_grad()
def generate(G: nn.Module, args: Args, z_dim: int, device: torch.device, out: Path):
    """n samples and their latents, in batches, with a progress bar; image PNGs as they come."""
    rng = torch.Generator(device=device).manual_seed(args.seed)
    xs = zs = None  # filled in place: memory is the arrays plus one batch
    columns = (
        TextColumn("[bold]gan-sample"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("sample", total=args.n)
        for start in range(0, args.n, args.batch_size):
            count = min(args.batch_size, args.n - start)
            z = torch.randn(count, z_dim, generator=rng, device=device)
            x = G(z).float().cpu()
            if xs is None:
                xs = np.empty((args.n, *x.shape[1:]), dtype=np.float32)
                zs = np.empty((args.n, z_dim), dtype=np.float32)
            xs[start : start + count] = x.numpy()
            zs[start : start + count] = z.cpu().numpy()
            if x.dim() == 4 and args.images:
                write_pngs(x, out / "images", start)
            bar.advance(task, count)
    return xs, zs


def to_uint8(x: Tensor) -> Tensor:
    """Images in [-1, 1] -> uint8 [0, 255], as they were before training scaled them."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def write_pngs(x: Tensor, folder: Path, start: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(to_uint8(x)):
        array = image.permute(1, 2, 0).numpy()
        Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(
            folder / f"{start + i:06d}.png"
        )


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """np.savez's format with fixed zip timestamps (byte-identical for identical arrays),
    written to a temporary file and renamed: never half-written."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.ascontiguousarray(array))
                zf.writestr(
                    zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                    buffer.getvalue(),
                )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between latents a, b (D,) at fractions t (T,) -> (T, D)."""
    omega = torch.arccos((a / a.norm() * b / b.norm()).sum().clamp(-1, 1))
    if omega.abs() < 1e-6:
        return (1 - t)[:, None] * a + t[:, None] * b
    s = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / s)[:, None] * a + (torch.sin(t * omega) / s)[:, None] * b


@torch.no_grad()
def interpolation(G: nn.Module, rows: int, z_dim: int, seed: int, device: torch.device, path: Path):
    """`rows` spherical interpolations between two random latents, 10 steps each."""
    rng = torch.Generator(device=device).manual_seed(seed + 1)  # not the samples' latents
    t = torch.linspace(0, 1, 10, device=device)
    ends = torch.randn(rows, 2, z_dim, generator=rng, device=device)
    z = torch.cat([slerp(a, b, t) for a, b in ends])
    x = G(z).float().cpu()
    if x.dim() == 4:
        image_grid(path, x, nrow=10)
    else:
        toy_scatter(path, x, None, None, f"{rows} interpolations, 10 steps each")


def real_points(cfg: dict[str, Any]) -> Tensor | None:
    """Held-out real points of a toy2d run, drawn afresh from the recorded distribution."""
    if "distribution" not in cfg["data"]:
        return None
    from gan_cli.data.toy2d import Toy2D

    return Toy2D(cfg["data"]["distribution"], batch_size=1, heldout_size=2000).heldout


def run(args: Args) -> list[str]:
    """Everything gan-sample does; returns what it wrote, for the closing line."""
    device = resolve_device(args.device, key="device")
    ckpt, run_dir = find_checkpoint(args.checkpoint)
    state = read_checkpoint(ckpt)
    G = rebuild_generator(state, args.ema, device)
    z_dim = state["config"]["model"]["z_dim"]
    out = Path(args.out) if args.out else (run_dir or ckpt.parent) / "generated"
    out.mkdir(parents=True, exist_ok=True)
    x, z = generate(G, args, z_dim, device, out)
    save_npz(out / "samples.npz", x=x, z=z)
    wrote = [f"samples.npz (x {tuple(x.shape)}, z {tuple(z.shape)})"]
    if x.ndim == 4:
        image_grid(out / "grid.png", torch.from_numpy(x[:64]))
        wrote += [f"images/ ({len(x)} PNG)"] if args.images else []
        wrote.append("grid.png")
    else:
        title = f"{len(x)} samples"
        toy_scatter(
            out / "scatter.png", torch.from_numpy(x), real_points(state["config"]), None, title
        )
        wrote.append("scatter.png")
    if args.interpolate:
        interpolation(G, args.interpolate, z_dim, args.seed, device, out / "interpolation.png")
        wrote.append("interpolation.png")
    if args.metrics:
        scores = sample_metrics(state["config"], G, args, device)
        (out / "metrics.json").write_text(json.dumps(scores, indent=2) + "\n")
        wrote.append(
            "metrics.json ("
            + ", ".join(f"{k} {v:.4g}" for k, v in scores.items() if isinstance(v, float))
            + ")"
        )
    return [str(out)] + wrote


def sample_metrics(cfg: dict[str, Any], G: nn.Module, args: Args, device: torch.device) -> dict:
    """FID and KID of args.n samples against the run's data (its files must be there)."""
    from gan_cli.metrics.fid import InceptionUnavailable, inception, score

    if "distribution" in cfg["data"]:
        raise UserError("metrics=true needs an image checkpoint (FID/KID)")
    data_cls = get_class(cfg["data"]["_target_"])
    data = data_cls(**{k: v for k, v in cfg["data"].items() if k != "_target_"}, device=device)
    weights = args.inception_weights or cfg.get("metrics", {}).get("inception_weights")
    try:
        extractor = inception(weights).to(device)
    except InceptionUnavailable as e:
        raise UserError(f"metrics=true: {e} (inception_weights=PATH)") from e
    reference = cfg.get("metrics", {}).get("reference", "test")
    scores = score(
        G, data.reference(reference), args.n, cfg["model"]["z_dim"], extractor, args.seed
    )
    return {**scores, "fid/reference": reference}


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def main() -> None:
    """The `gan-sample` command."""
    argv = sys.argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if argv else 2)
    try:
        wrote = run(parse(argv))
    except UserError as e:
        err_console.print(f"[bold red]gan-sample: error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    console.print(
        f"gan-sample: wrote to {wrote[0]}: " + ", ".join(wrote[1:]), soft_wrap=True, highlight=False
    )


if __name__ == "__main__":
    main()
