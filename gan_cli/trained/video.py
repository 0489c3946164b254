"""Interpolation videos (gan-sample interpolate=K video=PATH.gif): K walks through the
latent space, each a spherical interpolation between two random latents in `frames`
steps, played side by side. Images: each frame a grid of the K walks' images; points:
each frame the K walks' current points (and the path behind them) over the real data.
GIF, written with PIL; MP4 (H.264), written with imageio's ffmpeg plugin, the optional
extra `video` (make install includes it; in a source checkout: pip install -e '.[video]')."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from gan_cli.core.atomic import atomic_write
from gan_cli.core.plotting import pyplot
from gan_cli.models.conditional import generate as generate_batch
from gan_cli.trained.sampling import slerp, to_uint8

FORMATS = (".gif", ".mp4")  # what video= may name
BLOCK = 16  # H.264's macroblock: an MP4 frame is padded to a multiple of it


def mp4_available() -> bool:
    """Whether imageio and its ffmpeg binary (the `video` extra) are installed."""
    try:
        import imageio.v3  # noqa: F401
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return False
    return True


@torch.no_grad()
def walks(
    G: nn.Module,
    k: int,
    frames: int,
    seed: int,
    device: torch.device,
    classes: list[int] | None = None,
) -> Tensor:
    """K walks of `frames` samples each -> (frames, K, *sample shape): walk i goes from
    one random latent to another by spherical interpolation (its ends drawn from `seed`'s
    own stream); for a conditional generator within class classes[i % len(classes)]."""
    rng = torch.Generator(device=device).manual_seed(seed + 4)  # not the samples' latents
    ends = torch.randn(k, 2, G.z_dim, generator=rng, device=device)
    t = torch.linspace(0, 1, frames, device=device)
    z = torch.stack([slerp(a, b, t) for a, b in ends], 1)  # (frames, K, z_dim)
    y = None
    if classes:
        y = torch.tensor([classes[i % len(classes)] for i in range(k)], device=device)
        y = y.repeat(frames)
    x = generate_batch(G, z.reshape(frames * k, -1), y).float().cpu()
    return x.view(frames, k, *x.shape[1:])


def write_video(path: Path, x: Tensor, fps: int, real: Tensor | None = None) -> tuple[int, int]:
    """The walks x (frames, K, ...) as a video at `fps` frames a second: a looping GIF, or
    an MP4 (by the suffix of `path`); returns (frames, width). Images: a grid of the K
    walks a frame (at most 8 a row); points: the walks over `real` (M, 2)."""
    pictures = _grids(x) if x.dim() == 5 else _scatters(x, real)
    if path.suffix.lower() == ".mp4":
        return _mp4(path, pictures, fps)
    first, *rest = [Image.fromarray(p) for p in pictures]
    with atomic_write(path) as f:
        first.save(f, format="GIF", save_all=True, append_images=rest, duration=1000 / fps, loop=0)
    return len(pictures), first.width


def _mp4(path: Path, pictures: list[np.ndarray], fps: int) -> tuple[int, int]:
    """H.264 in yuv420p (what browsers and players read), each frame padded with black
    to a multiple of BLOCK pixels a side."""
    import imageio.v3 as iio

    h, w = pictures[0].shape[:2]
    pad = ((0, -h % BLOCK), (0, -w % BLOCK), (0, 0))
    frames = np.stack([np.pad(p, pad) for p in pictures])
    data = iio.imwrite(
        "<bytes>",
        frames,
        extension=".mp4",
        plugin="FFMPEG",
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        macro_block_size=BLOCK,
    )
    with atomic_write(path) as f:
        f.write(data)
    return len(frames), frames.shape[2]


def _grids(x: Tensor) -> list[np.ndarray]:
    """(frames, K, C, H, W) in [-1, 1] -> a uint8 RGB grid a frame, 2 px apart."""
    import torchvision

    frames, k = x.shape[:2]
    out = []
    for frame in x:
        grid = torchvision.utils.make_grid(frame * 0.5 + 0.5, nrow=min(k, 8), padding=2)
        out.append(to_uint8(grid * 2 - 1).permute(1, 2, 0).expand(-1, -1, 3).numpy().copy())
    return out


def _scatters(x: Tensor, real: Tensor | None) -> list[np.ndarray]:
    """(frames, K, 2) -> a 400 x 400 plot a frame: the real points, each walk's path so
    far and its current point."""
    plt = pyplot()
    both = x.reshape(-1, 2) if real is None else torch.cat([x.reshape(-1, 2), real])
    lo, hi = both.min(0).values, both.max(0).values
    pad = 0.1 * (hi - lo).clamp_min(0.5)
    colours = plt.get_cmap("tab10")
    out = []
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    for t in range(len(x)):
        ax.clear()
        if real is not None:
            ax.plot(real[:, 0], real[:, 1], "o", ms=1.4, color="darkorange", alpha=0.4)
        for i in range(x.shape[1]):
            colour = colours(i % 10)
            ax.plot(x[: t + 1, i, 0], x[: t + 1, i, 1], "-", color=colour, lw=1)
            ax.plot(x[t, i, 0], x[t, i, 1], "o", color=colour, ms=7)
        ax.set_xlim(float(lo[0] - pad[0]), float(hi[0] + pad[0]))
        ax.set_ylim(float(lo[1] - pad[1]), float(hi[1] + pad[1]))
        ax.set_title(f"frame {t + 1}/{len(x)}", fontsize=9)
        fig.canvas.draw()
        out.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    plt.close(fig)
    return out
