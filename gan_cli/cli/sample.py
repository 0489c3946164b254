"""gan-sample: samples from a gan-train checkpoint, with no dataset and no training code.

    gan-sample checkpoint=outputs/2026-11-21/10-00-00                 # 64 samples of the run
    gan-sample checkpoint=outputs/2026-11-21/10-00-00/checkpoints/last.pt n=1000 out=samples/
    gan-sample checkpoint=RUN n=50000 batch_size=500 images=false     # a large npz only
    gan-sample checkpoint=RUN interpolate=8                           # 8 rows of slerp paths
    gan-sample checkpoint=RUN interpolate=4 video=walks.gif           # 4 walks, one animation
    gan-sample checkpoint=RUN interpolate=4 video=walks.mp4 fps=30    # the same as an MP4
    gan-sample checkpoint=RUN nearest=5                               # copies? 5 nearest each
    gan-sample checkpoint=RUN project=photo.png                       # the latent of an image
    gan-sample checkpoint=RUN project=faces/ project.steps=500 project.video=true
    gan-sample checkpoint=RUN seed=1 device=cpu ema=false
    gan-sample checkpoint=RUN n=10000 metrics=true                    # scores against the data
    gan-sample checkpoint=RUN truncation=0.7                          # the truncation trick
    gan-sample checkpoint=RUN truncation=0.5,0.7,1.0 metrics=true     # its trade-off, a table
    gan-sample checkpoint=RUN class=3 n=16                            # conditional: 16 of class 3
    gan-sample checkpoint=RUN class=[1,3,5] n=8                       # 8 of each, a grid row each
    gan-sample checkpoint=RUN class=Sneaker interpolate=4             # by name; paths in the class
    gan-sample checkpoint=RUN n=8 overwrite=true                      # replace an earlier call's
    gan-sample checkpoint=RUN export=gen.pt2                          # a generator without gan-cli

The generator is rebuilt from the config stored in the checkpoint. `out` (default:
generated/ in the run folder) receives samples.npz (x: samples in data space, float32;
z: their latents; y: their classes, for a class-conditional generator),
images/000000.png ... and grid.png for images, scatter.png for 2-D points, and
interpolation.png with interpolate=K; with video=PATH.gif (or .mp4: the `video` extra)
as well, an animation of K walks through the latent space (frames= steps each, fps=
frames a second). With truncation=PSI, every latent component beyond PSI is redrawn
(BigGAN's truncation trick; samples.npz records `truncation`); with several values and
metrics=true, out receives their trade-off instead: truncation.csv, truncation.png and
metrics.json. With nearest=K (image runs; needs the data files), nearest.csv holds each
sample's K nearest training images and nearest.png shows the first 8 beside theirs,
with the copy rate (the share of samples nearer a training image than the median
held-out image is). With project=PATH, gan-sample samples nothing: it finds the latent
(and a conditional generator's class) of each target (an image, a folder of images, or
a .npy/.csv of points), the best 4 of project.starts random latents refined by
project.steps Adam steps, and writes projected.npz (z, y, x: the reconstructions,
target, distance, name) and projected.png; with project.video=true, projected.gif.
`out` holds one call's results only: a folder that is not empty is refused, unless
overwrite=true, which first removes what gan-sample wrote there (those files and
images/NNNNNN.png; never other files).

A class-conditional checkpoint (model.conditional) records its class names. With
class=, n samples of each class asked for (by index or name), in that order, and
grid.png one row per class; without it, n samples of classes drawn from the data's
frequencies, and grid.png one row per class for the first 16 classes.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_cli.core.console import console, fail
from gan_cli.core.errors import UserError

log = logging.getLogger(__name__)


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
    metrics: bool = False  # the samples' metrics against the run's data (needs its files)
    inception_weights: str | None = None  # for metrics: default, the run's metrics setting
    class_: Any = None  # `class=`: an index, a name or a list of them (conditional checkpoints)
    overwrite: bool = False  # replace what an earlier call wrote in `out` (only gan-sample's files)
    export: str | None = None  # PATH.pt2: write the generator (and .safetensors, .json) instead
    truncation: Any = None  # PSI > 0: latent components beyond it redrawn; PSI,PSI,...: a table
    video: str | None = None  # PATH.gif|PATH.mp4: interpolate=K's walks as an animation
    nearest: int = 0  # K > 0: each sample's K nearest training images, and the copy rate
    frames: int = 60  # video: the steps of each walk (of the optimisation, with project)
    fps: int = 24  # video: frames a second
    project: str | None = None  # an image, a folder of images, a .npy/.csv of points: their latents
    project_steps: int = 500  # `project.steps=`: Adam steps on each target's latent
    project_starts: int = 256  # `project.starts=`: random latents tried for each start
    project_video: bool = False  # `project.video=`: projected.gif, the optimisation as it went


DEFAULT_SEARCH = (Args.project_steps, Args.project_starts)
ALIASES = {  # command-line keys that are Python keywords or name a group's option
    "class": "class_",
    "project.steps": "project_steps",
    "project.starts": "project_starts",
    "project.video": "project_video",
}
ALLOWED = {  # what each option takes, for the line a wrong value gets
    "checkpoint": "a checkpoint file or a run folder",
    "n": "an integer >= 1",
    "out": "a folder",
    "seed": "an integer",
    "batch_size": "an integer >= 1",
    "device": "auto|cpu|cuda|mps",
    "interpolate": "an integer >= 0",
    "ema": "true|false",
    "images": "true|false",
    "metrics": "true|false",
    "inception_weights": "a weights file",
    "class": "a class index or name, or a list of them like [3,Sneaker]",
    "overwrite": "true|false",
    "export": "a .pt2 file (its .safetensors and .json go beside it)",
    "truncation": "a number > 0, or a comma list of them with metrics=true",
    "video": "a .gif or .mp4 file, with interpolate=K",
    "frames": "an integer >= 2",
    "fps": "an integer >= 1",
    "nearest": "an integer >= 0",
    "project": "an image (png|jpg|jpeg|webp), a folder of them, or a .npy/.csv of 2-D points",
    "project.steps": "an integer >= 0",
    "project.starts": "an integer >= 1",
    "project.video": "true|false",
}
# the files a call writes in `out` (and images/NNNNNN.png): overwrite=true removes these only
WRITES = ("samples.npz", "grid.png", "scatter.png", "interpolation.png", "metrics.json")
WRITES += ("truncation.csv", "truncation.png", "nearest.csv", "nearest.png")
WRITES += ("projected.npz", "projected.png", "projected.gif")


def parse(argv: list[str]) -> Args:
    """key=value arguments -> Args; one clear line for anything else."""
    schema = OmegaConf.structured(Args)
    fields = {v: k for k, v in ALIASES.items()}
    options = [fields.get(k, k) for k in schema.keys()]
    dotlist = []
    for arg in argv:
        if "=" not in arg:
            raise UserError(f"{arg!r} is not an option: write key=value, see gan-sample --help")
        key, value = arg.split("=", 1)
        if key not in options:
            raise UserError(f"unknown option {key!r}; options: {'|'.join(options)}")
        item = f"{ALIASES.get(key, key)}={value}"
        try:  # one at a time: a wrong value is named with its key
            OmegaConf.merge(schema, OmegaConf.from_dotlist([item]))
        except OmegaConfBaseException as e:
            raise UserError(f"{arg}: {key} is {ALLOWED[key]}") from e
        dotlist.append(item)
    args = OmegaConf.to_object(OmegaConf.merge(schema, OmegaConf.from_dotlist(dotlist)))
    if not args.checkpoint:
        raise UserError("checkpoint=PATH is required: a checkpoint file or a run folder")
    lows = {"n": 1, "batch_size": 1, "interpolate": 0, "frames": 2, "fps": 1, "nearest": 0}
    lows |= {"project_steps": 0, "project_starts": 1}
    for field, low in lows.items():
        if getattr(args, field) < low:
            key = fields.get(field, field)
            raise UserError(f"{key}={getattr(args, field)}: {key} is {ALLOWED[key]}")
    args.truncation = _truncations(args.truncation, args.metrics)
    _projection_alone(args)
    if args.video is not None:
        _video(args.video, args.interpolate)
    return args


def _video(path: str, walks: int) -> None:
    """video=PATH.gif|PATH.mp4, with interpolate=K walks; MP4 needs the `video` extra."""
    from gan_cli.trained.video import FORMATS, mp4_available

    if Path(path).suffix.lower() not in FORMATS or walks < 1:
        raise UserError(f"video={path}: video is {ALLOWED['video']} (the number of walks)")
    if Path(path).suffix.lower() == ".mp4" and not mp4_available():
        raise UserError(
            f"video={path}: MP4 needs imageio and its ffmpeg plugin, the extra `video`: "
            "make install, or pip install -e '.[video]' in the source checkout (or write "
            "video=PATH.gif, which needs nothing more)"
        )


def _projection_alone(args: Args) -> None:
    """project=PATH projects and samples nothing: the options of sampling are refused
    beside it, and project.* without it."""
    if args.project is None:
        if args.project_video or (args.project_steps, args.project_starts) != DEFAULT_SEARCH:
            raise UserError("project.steps, project.starts and project.video need project=PATH")
        return
    beside = {
        "interpolate": args.interpolate > 0,
        "nearest": args.nearest > 0,
        "metrics": args.metrics,
        "truncation": args.truncation is not None,
        "export": args.export is not None,
        "video": args.video is not None,
    }
    given = [key for key, on in beside.items() if on]
    if given:
        raise UserError(
            f"project={args.project} projects and samples nothing: leave out {given[0]}= "
            "(use project.video=true for the optimisation's video)"
        )


def _truncations(value: Any, metrics: bool) -> list[float] | None:
    """truncation=PSI or PSI,PSI,... -> the values (each > 0); None if not given."""
    if value is None:
        return None
    texts = [str(value)] if not isinstance(value, str) else value.split(",")
    try:
        values = [float(t) for t in texts]
    except ValueError:
        values = []
    if not values or any(not v > 0 for v in values):
        raise UserError(f"truncation={value}: truncation is {ALLOWED['truncation']}")
    if len(values) > 1 and not metrics:
        raise UserError(
            f"truncation={value}: several values make metrics=true's table of their "
            "trade-off; add metrics=true, or give one value to sample with"
        )
    return values


def claim(out: Path, overwrite: bool) -> None:
    """`out` holds one call's results and nothing of an earlier one: a folder that is not
    empty is refused, unless overwrite=true, which removes what gan-sample writes there
    (WRITES and images/NNNNNN.png), never a user's other files."""
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise UserError(
            f"out={out} is not empty (an earlier call's samples?): give another out=, or "
            "overwrite=true to replace what gan-sample wrote there"
        )
    for name in WRITES:
        (out / name).unlink(missing_ok=True)
    images = out / "images"
    if images.is_dir():
        for png in images.glob("*.png"):
            if png.stem.isdigit() and len(png.stem) == 6:
                png.unlink()
        if not any(images.iterdir()):
            images.rmdir()


def run(args: Args) -> list[str]:
    """Everything gan-sample does; returns what it wrote, for the closing line. Every
    option is checked before anything is sampled or written."""
    # torch and the builders: imported once the options are read (--help needs none)
    import numpy as np
    import torch
    from hydra.utils import get_class

    from gan_cli.config import build
    from gan_cli.config.checks import resolve_device
    from gan_cli.core.atomic import atomic_write
    from gan_cli.data.base import IMAGES
    from gan_cli.trained.sampling import (
        class_grid,
        generate,
        grid_rows,
        interpolation,
        save_npz,
    )
    from gan_cli.training import conditioning
    from gan_cli.training.checkpoint import find_checkpoint, read_checkpoint
    from gan_cli.training.conditioning import SampleClasses, asked_classes
    from gan_cli.training.figures import COLUMNS, FIGURES

    device = resolve_device(args.device, key="device")
    ckpt, run_dir = find_checkpoint(args.checkpoint)
    state = read_checkpoint(ckpt)
    cfg = OmegaConf.create(state["config"])
    kind = get_class(cfg.data._target_).kind
    classes = conditioning.from_state(state) if "classes" in state else None
    labels = SampleClasses(classes, asked_classes(args.class_, classes))
    scorer = None
    if args.metrics:  # before any sampling: a checkpoint that cannot be scored stops here
        scorer = scorer_for(cfg, classes, args.n, args.seed, args.inception_weights, device)
    data = None
    if args.nearest:  # before any sampling: a run whose data is not here stops here
        if kind != IMAGES:
            raise UserError(
                f"nearest={args.nearest}: nearest=K looks for copies among the training "
                f"images; this run's data holds {kind}, drawn afresh at every step"
            )
        try:
            data = build.data_source(cfg, device)
        except UserError as e:
            raise UserError(
                f"nearest={args.nearest} compares with the run's training images, which "
                f"are not at hand: {e}"
            ) from e
    targets = None
    if args.project:  # before any sampling: targets that do not fit stop here
        from gan_cli.trained.project_inputs import read_targets

        if "mixture" in state:
            raise UserError(
                f"project={args.project}: an AdaGAN mixture draws the component of each "
                "latent at random, so no latent names one sample: project with a run "
                "without +boost=adagan"
            )
        targets, names = read_targets(args.project, build.sample_shape(cfg))
    G = build.rebuild_generator(state, args.ema, device, args.seed)
    if args.export:
        from gan_cli.trained.export import export_generator

        paths = export_generator(G, state["config"], state.get("classes"), args.export)
        return [str(paths[0].parent)] + [p.name for p in paths]
    figure = FIGURES[kind]
    out = Path(args.out) if args.out else (run_dir or ckpt.parent) / "generated"
    claim(out, args.overwrite)
    out.mkdir(parents=True, exist_ok=True)
    if targets is not None:
        return [str(out), *projected(args, state, G, targets, names, labels, out, device)]
    if args.truncation is not None and len(args.truncation) > 1:
        from gan_cli.trained.truncation import trade_off

        return [str(out), *trade_off(scorer, G, args.truncation, out)]
    psi = None if args.truncation is None else args.truncation[0]
    pngs = out / "images" if args.images and kind == IMAGES else None
    x, z, y = generate(G, args.n, args.seed, args.batch_size, device, pngs, labels, psi)
    extra = {} if y is None else {"y": y}
    if psi is not None:  # what made these samples: latents truncated at psi
        extra["truncation"] = np.float32(psi)
    save_npz(out / "samples.npz", x=x, z=z, **extra)
    wrote = [f"samples.npz (x {tuple(x.shape)}, z {tuple(z.shape)}{'' if y is None else ', y'})"]
    wrote += [f"images/ ({len(x)} PNG)"] if pngs else []
    real = build.data_source(cfg, torch.device("cpu")).heldout if figure.shows_real else None
    nrow = COLUMNS
    if classes is None:
        shown = torch.from_numpy(x[: figure.n])
    else:
        shown = class_grid(G, x, labels, args.seed, device)
        nrow = len(shown) // len(grid_rows(labels))
    figure.draw(out / figure.file, shown, real, None, f"{len(shown)} samples", nrow=nrow)
    wrote.append(figure.file)
    if args.interpolate:
        within = None if classes is None else labels.asked or list(range(len(classes.names)))
        rows = interpolation(G, args.interpolate, args.seed, device, within)
        title = f"{args.interpolate} interpolations, 10 steps each"
        figure.paths(out / "interpolation.png", rows, title, nrow=10)
        wrote.append("interpolation.png")
        if args.video:
            from gan_cli.trained.video import walks, write_video

            x_walks = walks(G, args.interpolate, args.frames, args.seed, device, within)
            frames, _ = write_video(Path(args.video), x_walks, args.fps, real)
            wrote.append(
                f"{_beside(Path(args.video), out)} ({frames} frames of {args.interpolate} walks)"
            )
    if data is not None:
        from gan_cli.config.compose import metrics_settings
        from gan_cli.trained import neighbours

        fake = torch.from_numpy(x).to(device)
        steps = metrics_settings(cfg).classifier_steps
        found = neighbours.find(data, fake, args.nearest, steps)
        train = data.first_examples(int(found.indices.max()) + 1)
        wrote += neighbours.write(out, fake, train, found)
    if scorer is not None:
        scores = scorer(G, psi)
        with atomic_write(out / "metrics.json", "w") as f:
            f.write(json.dumps(scores, indent=2) + "\n")
        shown_scores = ", ".join(f"{k} {v:.4g}" for k, v in scores.items() if isinstance(v, float))
        wrote.append(f"metrics.json ({shown_scores})")
    return [str(out)] + wrote


def projected(args: Args, state, G, targets, names, labels, out: Path, device) -> list[str]:
    """project=PATH: each target's latent (gan_cli.trained.projection), written to
    projected.npz and projected.png (and projected.gif with project.video=true)."""
    from gan_cli.trained import projection

    features = projection.run_features(state, device)
    asked = labels.asked
    n_classes = 0 if labels.classes is None else len(labels.classes.names)
    if asked and len(asked) > 1:
        raise UserError(f"class={args.class_}: project takes one class for all its targets")
    found = projection.project(
        G,
        targets.to(device),
        steps=args.project_steps,
        starts=args.project_starts,
        seed=args.seed,
        features=features,
        classes=asked[0] if asked else None,
        n_classes=n_classes,
        record=8 if args.project_video else 0,
        frames=args.frames,
    )
    name = "" if features is None else features.name
    wrote = projection.write(out, targets.to(device), found, names, name)
    if args.project_video:
        wrote.append(projection.write_video(out / "projected.gif", targets, found, args.fps))
    return wrote


def scorer_for(cfg, classes, n: int, seed: int, inception_weights, device, only=None):
    """metrics=true's Scorer for a checkpoint's config: the run's data and metrics
    settings (gan_cli.trained.scoring)."""
    from gan_cli.config import build
    from gan_cli.config.compose import metrics_settings
    from gan_cli.trained.scoring import Scorer

    data = build.data_source(cfg, device)
    return Scorer(data, metrics_settings(cfg), n, seed, inception_weights, device, classes, only)


def _beside(path: Path, out: Path) -> str:
    """A file named on the command line, as the closing line lists it: by its name in the
    output folder, else by its path (./walks.gif for one in the current folder)."""
    if path.resolve().parent == out.resolve():
        return path.name
    return str(path) if path.parent != Path() else f"./{path}"


def main() -> None:
    """The `gan-sample` command."""
    argv = sys.argv[1:]
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    try:
        wrote = run(parse(argv))
    except UserError as e:
        fail("gan-sample", e)
    console.print(
        f"gan-sample: wrote to {wrote[0]}: " + ", ".join(wrote[1:]), soft_wrap=True, highlight=False
    )


if __name__ == "__main__":
    main()
