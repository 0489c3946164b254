"""The one builder: a checked config -> the data source and the GAN (networks, objective,
constraint, optimizers, EMA, how the networks are called). gan-train, gan-sample, the
benchmarks and the tests all build through here.

It builds what the config says: what the loss changes in the networks is already
written into the config by gan_cli.config.spec.derive, so the config a run records (run
folder, checkpoint, W&B) is the one it trained with.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gan_cli.config.targets import target_class
from gan_cli.core.errors import UserError, one_line
from gan_cli.core.params import RUNTIME, signature_params
from gan_cli.core.values import is_number
from gan_cli.data.augment import Augment
from gan_cli.data.base import IMAGES, DataSource
from gan_cli.losses.joint import RECONSTRUCTOR
from gan_cli.models.common import ArchError
from gan_cli.models.joint import JointCritic
from gan_cli.models.pacgan import packed_shape
from gan_cli.training import distributed
from gan_cli.training.conditioning import Classes, of_labels
from gan_cli.training.distributed import World
from gan_cli.training.mixture import Mixture
from gan_cli.training.step import CRITIC, GAN, GENERATOR, Forwards, Network
from gan_cli.training.unroll import Unroller

LABELLED = "data=mnist|fashion_mnist|cifar10|stacked_mnist, or image_folder with class subfolders"


def build_node(cfg: DictConfig, key: str, **kwargs: Any) -> Any:
    """Instantiate the `_target_` node at `key` of `cfg` (model.generator), passing
    `kwargs` the config cannot know (shapes, device)."""
    node = OmegaConf.select(cfg, key)
    target = node.get("_target_")
    target_class(target, key)
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as e:
        if isinstance(e.__cause__, UserError):  # already the line users see
            raise e.__cause__ from None
        if isinstance(e.__cause__, ArchError):  # named by the key the user sets
            raise UserError(f"{_key_of(cfg, key, e.__cause__.param)}: {e.__cause__}") from None
        raise UserError(f"{key}: {one_line(e.__cause__ or e)}") from e


def _key_of(cfg: DictConfig, key: str, name: str) -> str:
    """'model.g_depth=2' for the generator's argument `depth` (the node at `key`), which
    the knob model.g_depth sets (g_ for the generator, d_ for the critic), else the
    argument's own key; and its value."""
    node = OmegaConf.select(cfg, key)
    knob = {"model.generator": "g_", "model.discriminator": "d_"}.get(key, "") + name
    if knob != name and knob in cfg.model:
        key, node, name = "model", cfg.model, knob
    value = node.get(name)
    return f"{key}.{name}={'null' if value is None else value}"


def optimizer(cfg: DictConfig, key: str, params) -> torch.optim.Optimizer:
    """The optimizer of the `optim.g` / `optim.d` / `optim.r` node `key` over `params`; one
    line if its arguments do not fit its class."""
    node = OmegaConf.select(cfg, key)
    cls = target_class(node._target_, key)
    try:
        return build_node(cfg, key, **_numbers(key, cls, arguments(node)))(params)
    except (TypeError, ValueError) as e:
        raise UserError(f"{key}: {one_line(e)}") from e


def _numbers(key: str, cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """The optimizer arguments whose default is a number (lr, eps, weight_decay, betas,
    momentum...) as floats: `betas=[0,0.9]` is the paper's (0.0, 0.9), and a value that
    is no number is one line naming the key."""
    out = {}
    for name, param in inspect.signature(cls).parameters.items():
        if name not in given or param.default is inspect.Parameter.empty:
            continue
        default, value = param.default, given[name]
        if isinstance(default, bool) or default is None:
            continue
        if isinstance(default, tuple) and all(is_number(d) for d in default):
            if not isinstance(value, list | tuple) or len(value) != len(default):
                value = None
            else:
                value = [_float(v) for v in value]
            if value is None or None in value:
                pair = ",".join(str(float(d)) for d in default)
                raise UserError(
                    f"{key}.{name}={given[name]}: {len(default)} numbers, like [{pair}]"
                )
            out[name] = tuple(value)
        elif is_number(default) and (
            "float" in str(param.annotation) or isinstance(default, float)
        ):
            if (number := _float(value)) is None:
                raise UserError(f"{key}.{name}={value}: a number, like {default}")
            out[name] = number
    return out


def _float(x: Any) -> float | None:
    return float(x) if is_number(x) else None


def arguments(node: DictConfig) -> dict:
    """A `_target_` node's arguments as plain values."""
    return {k: v for k, v in OmegaConf.to_container(node).items() if k != "_target_"}


def data_source(cfg: DictConfig, device: torch.device) -> DataSource:
    return build_node(cfg, "data", seed=cfg.trainer.seed, device=device)


def sample_shape(cfg: DictConfig) -> tuple[int, ...]:
    """The shape of one sample of the config's data, from its settings alone."""
    return get_class(cfg.data._target_).sample_shape(**arguments(cfg.data))


def generator(cfg: DictConfig, n_classes: int = 0) -> nn.Module:
    """The generator the config describes, on the CPU; needs no data files. A
    conditional one (model.conditional) is given its number of classes: from the data,
    or from the checkpoint (gan-sample)."""
    data_cls = get_class(cfg.data._target_)
    shape = sample_shape(cfg)
    offered = {"out_shape": shape, "bounded": data_cls.kind == IMAGES, "n_classes": n_classes}
    return build_node(cfg, "model.generator", **_taken(cfg.model.generator, offered))


def critic(cfg: DictConfig, shape: tuple[int, ...], n_classes: int = 0) -> nn.Module:
    """The critic the config describes for samples of `shape` (packed as loss.pack
    asks), on the CPU, before its constraint; for an objective on pairs (loss=ali|veegan),
    the family's critic inside a JointCritic D(x, z)."""
    node = cfg.model.discriminator
    in_shape = packed_shape(shape, cfg.loss.pack)
    on_pairs = bool(get_class(cfg.loss.objective._target_).networks)
    z_dim = cfg.model.generator.z_dim
    at_input = on_pairs and getattr(get_class(node._target_), "flattens", False)
    if at_input:  # it reads the pair (x, z) as one vector
        in_shape = (math.prod(shape) + z_dim,)
    offered = {"in_shape": in_shape, "conditional": cfg.model.conditional, "n_classes": n_classes}
    D = build_node(cfg, "model.discriminator", **_taken(node, offered))
    return JointCritic(D, z_dim, at_input) if on_pairs else D


def reconstructor(cfg: DictConfig, shape: tuple[int, ...]) -> nn.Module:
    """F: x -> z of an objective on pairs (model.reconstructor), on the CPU."""
    return build_node(cfg, "model.reconstructor", in_shape=shape)


def classes(cfg: DictConfig, data: DataSource, device: torch.device) -> Classes | None:
    """The classes of a conditional GAN (model.conditional), from the data's labels, with
    their frequencies on the training device (the generator step draws from them); one
    line when the data has none."""
    kind = cfg.model.conditional
    if kind == "none":
        return None
    if data.labels is None:
        raise UserError(
            f"model.conditional={kind} needs labelled data ({LABELLED}); this data has no "
            "labels (image_folder: put each class's images in a subfolder named after it)"
        )
    return of_labels(data.labels, kind, cfg.model.acgan_weight, device)


def loss_part(cfg: DictConfig, part: str) -> Any:
    """The objective or the constraint of `loss`, with its parameters from loss.<name>."""
    node = cfg.loss[part]
    params = signature_params(get_class(node._target_), skip=RUNTIME)
    return build_node(cfg, f"loss.{part}", **{p.name: cfg.loss[p.name] for p in params})


def assemble(
    cfg: DictConfig, device: torch.device, world: World | None = None
) -> tuple[GAN, DataSource]:
    """(GAN, data) for a resolved config (gan_cli.config.spec), on `device`; under DDP,
    this rank's data shard and noise, and the networks wrapped.

    It seeds torch's global generator with trainer.seed (trainer.seed + rank under DDP):
    the networks' initial weights and the training noise are drawn from it."""
    t, world = cfg.trainer, world or World()
    torch.manual_seed(t.seed)
    data = data_source(cfg, device)
    labelled = classes(cfg, data, device)
    n_classes = 0 if labelled is None else len(labelled.names)
    G = generator(cfg, n_classes).to(device)
    constraint = loss_part(cfg, "constraint")
    D = constraint.prepare(critic(cfg, data.shape, n_classes)).to(device)
    if world.active and cfg.loss.unroll:
        raise UserError(
            "loss.unroll runs the generator several times before one backward pass, "
            "which DistributedDataParallel does not allow: train it on one process"
        )
    if world.active:  # same weights everywhere (DDP checks), each rank its own noise and data
        torch.manual_seed(t.seed + world.rank)
        data.shard(world.rank, world.size)
    objective = loss_part(cfg, "objective")
    networks = {
        GENERATOR: network(cfg, G, "g"),
        CRITIC: network(cfg, D, "d"),
    }
    R = None
    if RECONSTRUCTOR in objective.networks:  # after G and D: their weights do not move
        R = reconstructor(cfg, data.shape).to(device)
        networks[RECONSTRUCTOR] = network(cfg, R, "r")
    opt_d = networks[CRITIC].optimizer
    augment = augmentation(data, device, world)
    gan = GAN(
        networks=networks,
        objective=objective,
        constraint=constraint,
        n_critic=cfg.loss.n_critic,
        critic_warmup=cfg.loss.critic_warmup,
        ema=ema_of(G, t.ema_decay) if t.ema_decay > 0 else None,
        forwards=forwards(G, D, constraint.double_backward, world, t.compile, R, augment),
        pack_size=cfg.loss.pack,
        unroller=Unroller(D, opt_d, objective, constraint, cfg.loss.unroll)
        if cfg.loss.unroll
        else None,
        classes=labelled,
        augment=augment,
    )
    return gan, data


def augmentation(data: DataSource, device: torch.device, world: World) -> Augment | None:
    """What the critic sees of the data's images (data.augment), or None."""
    policies = getattr(data, "augment", ())
    if not policies:
        return None
    return Augment(policies, data.augment_target, data.batch_size, device, world)


def network(cfg: DictConfig, module: nn.Module, tag: str) -> Network:
    """A trained network with its optimizer (the `optim.<tag>` node) and schedule."""
    opt = optimizer(cfg, f"optim.{tag}", module.parameters())
    return Network(module, opt, tag, schedule(cfg.optim.schedule, cfg.trainer.steps, opt))


def schedule(kind: str, steps: int, opt: torch.optim.Optimizer) -> LRScheduler | None:
    """optim.schedule: constant (None), or linear: every learning rate falls linearly
    from its value to 0 at trainer.steps (generator step s trains with lr * (1 - (s-1)/steps))."""
    if kind == "constant":
        return None
    return LambdaLR(opt, lambda done: max(0.0, 1 - done / steps))


def _taken(node: DictConfig, offered: dict[str, Any]) -> dict[str, Any]:
    """Of the values the code offers (shapes, output range), those the target takes."""
    taken = inspect.signature(get_class(node._target_)).parameters
    return {k: v for k, v in offered.items() if k in taken}


def ema_of(G: nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of G's weights (and batch-norm statistics)."""
    return AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def forwards(
    G, D, double_backward: bool, world: World, compile: bool, R=None, augment=None
) -> Forwards:
    """How the loop calls the networks: compiled with `trainer.compile` (not a critic
    whose penalty needs a double backward, which compiled graphs do not support), and
    wrapped in DistributedDataParallel on several ranks; R, a reconstructor, likewise.
    With `augment`, every critic call of a training step judges augmented images."""
    if compile:
        G = torch.compile(G)
        R = None if R is None else torch.compile(R)
        if not double_backward:
            D = torch.compile(D)
    wrap = distributed.wrap
    r = None if R is None else wrap(R, world)
    d, d_local = wrap(D, world), D
    if augment is not None:
        d, d_local = augment.around(d), augment.around(d_local)
    return Forwards(g=wrap(G, world), d=d, g_local=G, d_local=d_local, r=r)


def rebuild_generator(
    state: dict[str, Any], ema: bool, device: torch.device, seed: int = 0
) -> nn.Module:
    """The generator from the checkpoint's config and weights (the EMA ones if present);
    a conditional one with the classes the checkpoint records; an AdaGAN mixture
    (+boost=adagan) of its components, each sample's component drawn from `seed`."""
    if "mixture" in state:
        mixture, one = state["mixture"], {k: v for k, v in state.items() if k != "mixture"}
        parts = [
            rebuild_generator({**one, "generator": c}, False, device) for c in mixture["components"]
        ]
        return Mixture(parts, mixture["weights"], seed).to(device).eval()
    n_classes = len(state["classes"]["names"]) if "classes" in state else 0
    G = generator(OmegaConf.create(state["config"]), n_classes)
    weights = state["generator_ema"] if ema and "generator_ema" in state else state["generator"]
    try:
        G.load_state_dict(weights)
    except RuntimeError as e:
        raise UserError(
            "the checkpoint's generator weights do not fit the generator its config describes "
            f"(written by another version of gan-cli?): {one_line(e)[:200]}"
        ) from e
    return G.to(device).eval()
