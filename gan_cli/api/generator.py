"""`gan_cli.load`: a trained generator as a Python object, rebuilt the way gan-sample
rebuilds it, so the same seed gives the same samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from gan_cli.config.build import generator, rebuild_generator, sample_shape
from gan_cli.config.checks import resolve_device
from gan_cli.core.errors import UserError
from gan_cli.trained import projection
from gan_cli.trained.export import export_generator, load_weights, read_export
from gan_cli.trained.projection import Projection
from gan_cli.trained.sampling import generate, slerp
from gan_cli.training.checkpoint import find_checkpoint, read_checkpoint
from gan_cli.training.conditioning import Classes, SampleClasses, asked_classes


class Generator:
    """A trained generator: `sample` draws as gan-sample does, `generate` maps latents
    you chose; `module` is the `torch.nn.Module` itself (in eval mode)."""

    def __init__(
        self,
        module: nn.Module,
        config: dict,
        classes: dict | None,
        device: torch.device,
        checkpoint: Path | None = None,
    ) -> None:
        self.module = module
        self._checkpoint = checkpoint  # its run's critic, for projection's features
        self.device = device
        self._config = config
        self._record = classes  # the checkpoint's record: names and frequencies
        self._classes = None
        if classes is not None:
            kind = config["model"]["conditional"]
            frequencies = torch.tensor(classes["frequencies"])
            self._classes = Classes(tuple(classes["names"]), frequencies, kind)

    @property
    def z_dim(self) -> int:
        """The latent dimension: `generate` takes z of shape (B, z_dim)."""
        return self.module.z_dim

    @property
    def classes(self) -> tuple[str, ...] | None:
        """A class-conditional generator's class names (index i is class i), else None."""
        return None if self._classes is None else self._classes.names

    @property
    def config(self) -> DictConfig:
        """The run's config as it was trained (config.yaml)."""
        return OmegaConf.create(self._config)

    def sample(
        self,
        n: int,
        seed: int = 0,
        classes: Any = None,
        batch_size: int = 256,
        return_latents: bool = False,
        truncation: float | None = None,
    ) -> Tensor | tuple[Tensor, Tensor, Tensor | None]:
        """n samples in data space (images in [-1, 1], N x C x H x W; points N x 2), the
        ones `gan-sample n=N seed=SEED` writes to samples.npz. A conditional generator
        draws classes from the data's frequencies, or, with `classes` (an index, a name or
        a list of them), n samples of each class asked for, in that order. With
        `return_latents`, (x, z, y) as in samples.npz (y None if unconditional). With
        `truncation` PSI > 0, each latent component beyond PSI is redrawn (BigGAN's
        truncation trick), as `gan-sample truncation=PSI` samples."""
        if n < 1 or batch_size < 1:
            raise UserError(f"sample: n and batch_size are integers >= 1 (n={n})")
        if truncation is not None and not truncation > 0:
            raise UserError(f"sample: truncation is a number > 0 (truncation={truncation})")
        labels = SampleClasses(self._classes, asked_classes(classes, self._classes))
        if hasattr(self.module, "rng"):  # an AdaGAN mixture draws components from the seed
            self.module.rng.manual_seed(seed)
        x, z, y = generate(self.module, n, seed, batch_size, self.device, None, labels, truncation)
        if return_latents:
            y = None if y is None else torch.from_numpy(y)
            return torch.from_numpy(x), torch.from_numpy(z), y
        return torch.from_numpy(x)

    @torch.no_grad()
    def generate(self, z: Tensor, classes: Any = None) -> Tensor:
        """The samples of latents z (B, z_dim); a conditional generator needs `classes`:
        one class (index or name) for all, or one per latent."""
        z = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise UserError(f"generate: z is (B, {self.z_dim}); got {tuple(z.shape)}")
        if self._classes is None:
            if classes is not None:
                asked_classes(classes, None)  # the one line for an unconditional generator
            return self.module(z)
        if classes is None:
            names = "|".join(self._classes.names)
            raise UserError(f"generate: this generator is conditional: give classes= ({names})")
        y = self._labels(classes, len(z))
        return self.module(z, y)

    @torch.no_grad()
    def interpolate(self, z0: Tensor, z1: Tensor, frames: int = 10, classes: Any = None) -> Tensor:
        """The samples along the spherical interpolation (slerp: the path a Gaussian
        latent's norm stays typical on) from latent z0 to z1 (z_dim,), `frames` of them,
        ends included -> (frames, *sample shape); for a conditional generator, of one
        class (`classes`: an index or a name)."""
        if frames < 2:
            raise UserError(f"interpolate: frames is an integer >= 2 (frames={frames})")
        ends = [torch.as_tensor(z, dtype=torch.float32, device=self.device) for z in (z0, z1)]
        if any(z.shape != (self.z_dim,) for z in ends):
            raise UserError(f"interpolate: z0 and z1 are ({self.z_dim},) latents")
        z = slerp(*ends, torch.linspace(0, 1, frames, device=self.device))
        return self.generate(z, classes)

    def project(
        self,
        x: Tensor,
        steps: int = projection.STEPS,
        seed: int = 0,
        starts: int = projection.STARTS,
        classes: Any = None,
    ) -> Projection:
        """The latents whose samples reproduce x (N, ...) in data space (images in
        [-1, 1], points N x 2), as `gan-sample project=PATH` finds them: the best of
        `starts` random latents, then `steps` Adam steps on the loss in pixels and, for a
        generator loaded from a checkpoint, in its run's features (the domain classifier
        where the data is here, else the critic's). A conditional generator searches
        each target's class, or takes `classes` (one index or name for all). Returns a
        Projection: z, y (classes or None), x (the reconstructions) and distance."""
        if steps < 0 or starts < 1:
            raise UserError(f"project: steps >= 0, starts >= 1; got {steps}, {starts}")
        x = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        shape = sample_shape(self.config)
        if tuple(x.shape[1:]) != shape:
            wanted = ", ".join(map(str, shape))
            raise UserError(f"project: x is (N, {wanted}); got {tuple(x.shape)}")
        features = None
        if self._checkpoint is not None:
            features = projection.run_features(read_checkpoint(self._checkpoint), self.device)
        n_classes = 0 if self._classes is None else len(self._classes.names)
        given = None if classes is None else asked_classes(classes, self._classes)[0]
        return projection.project(
            self.module,
            x,
            steps=steps,
            starts=starts,
            seed=seed,
            features=features,
            classes=given,
            n_classes=n_classes,
        )

    def export(self, path: str | Path) -> list[Path]:
        """Write PATH.pt2 (a torch.export program: runs without gan-cli), PATH.safetensors
        and PATH.json (which gan_cli.load reads); returns the three paths."""
        paths = export_generator(self.module, self._config, self._record, path)
        self.module.to(self.device)  # export runs on the CPU
        return paths

    def _labels(self, classes: Any, n: int) -> Tensor:
        many = isinstance(classes, list | tuple | Tensor) and not isinstance(classes, str)
        if not many:
            classes = [classes] * n
        if isinstance(classes, Tensor):
            classes = classes.tolist()
        if len(classes) != n:
            raise UserError(f"generate: {len(classes)} classes for {n} latents")
        indices = [asked_classes(c, self._classes)[0] for c in classes]
        return torch.tensor(indices, dtype=torch.long, device=self.device)

    def __repr__(self) -> str:
        model = str(self._config["model"]["generator"]["_target_"]).split(".")[-2]
        data = str(self._config["data"]["_target_"]).rsplit(".", 1)[-1]
        conditional = f", {len(self.classes)} classes" if self.classes else ""
        return f"Generator({model} on {data}, z_dim={self.z_dim}{conditional}, {self.device})"


def load(path: str | Path, device: str | None = None, ema: bool = True) -> Generator:
    """A trained generator from a checkpoint file, a run folder (its last checkpoint) or
    an exported generator's .safetensors file (with its .json beside). `device`: auto
    (None), cpu, cuda or mps; `ema`: the averaged weights where the run kept them."""
    where = resolve_device(device or "auto", key="device")
    p = Path(path)
    if p.suffix in (".safetensors", ".pt2"):
        weights = p.with_suffix(".safetensors")
        about = read_export(weights)
        classes = about["classes"]
        G = generator(OmegaConf.create(about["config"]), len(classes["names"]) if classes else 0)
        G = load_weights(G, weights).to(where).eval()
        return Generator(G, about["config"], classes, where)
    ckpt, _ = find_checkpoint(str(path), key="path")
    state = read_checkpoint(ckpt, key="path")
    G = rebuild_generator(state, ema, where)
    return Generator(G, state["config"], state.get("classes"), where, ckpt)
