"""The recipes of docs/architecture.md, each followed once with a throw-away piece defined
here: an objective, a constraint, a data source and a metric. Each is one class (or
function) and, for a data source, one config node, and then works from the command
line's keys through training to metrics.jsonl."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.core.config_store import ConfigStore
from torch import Tensor

from gan_cli import metrics
from gan_cli.cli.launch import fit_config as train
from gan_cli.config.compose import config_groups
from gan_cli.config.spec import check
from gan_cli.constraints import CONSTRAINTS, Constraint
from gan_cli.constraints import register as register_constraint
from gan_cli.core.errors import UserError
from gan_cli.core.params import POSITIVE, POSITIVE_INT, Annotated
from gan_cli.data.base import POINTS, DataSource
from gan_cli.losses import OBJECTIVES, Objective
from gan_cli.losses import register as register_objective
from tests.helpers import FAST, compose, jsonl


@pytest.fixture
def registries():
    """Whatever a test registers is gone after it (registries and ConfigStore)."""
    saved = [(r, dict(r)) for r in (OBJECTIVES, CONSTRAINTS, metrics.REGISTRY)]
    repo = ConfigStore.instance().repo
    data = dict(repo.get("data", {}))
    yield
    for registry, before in saved:
        registry.clear()
        registry.update(before)
    repo["data"] = data
    for part in ("objective", "constraint"):  # the options generated from them
        options = repo["loss"][part]
        for name in [n for n in options if n.endswith("_test.yaml")]:
            del options[name]


# --- an objective: one class with @register (a file in gan_cli/losses/) ---------------------


class LeastSquares(Objective):
    """LSGAN (Mao et al. 2017) with labels a=0, b=c=target."""

    def __init__(self, target: Annotated[float, POSITIVE] = 1.0) -> None:
        self.target = target

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return 0.5 * (((real_out - self.target) ** 2).mean() + (fake_out**2).mean())

    def g_loss(self, fake_out: Tensor) -> Tensor:
        return 0.5 * ((fake_out - self.target) ** 2).mean()


def test_adding_an_objective(registries, tmp_path):
    register_objective("least_squares_test")(LeastSquares)  # what @register does in a file
    assert "least_squares_test" in config_groups()["loss/objective"]
    cfg = compose("loss=vanilla", "loss.objective=least_squares_test", "loss.target=0.5")
    assert check(cfg).loss.target == 0.5  # its parameter is a typed key of `loss`
    with pytest.raises(UserError, match=r"loss.target must be a positive number, got -1.0"):
        check(compose("loss=vanilla", "loss.objective=least_squares_test", "loss.target=-1"))
    final = train(
        compose("loss=vanilla", "loss.objective=least_squares_test", "logger=none", *FAST), tmp_path
    )
    assert math.isfinite(final["loss/d"]) and 0 <= final["loss/g"]
    assert "wasserstein/heldout" not in final  # it declares no estimate


# --- a constraint: one class with @register ------------------------------------------------


class Box(Constraint):
    """Clamp the critic's weights to [-bound, bound] after each step."""

    seen: list[float] = []  # the largest weight after each critic step

    def __init__(self, bound: Annotated[float, POSITIVE] = 0.05) -> None:
        self.bound = bound

    @torch.no_grad()
    def after_d_step(self, critic) -> None:
        for p in critic.parameters():
            p.clamp_(-self.bound, self.bound)
        self.seen.append(max(p.abs().max().item() for p in critic.parameters()))


def test_adding_a_constraint(registries, tmp_path):
    register_constraint("box_test")(Box)
    seen = Box.seen = []
    cfg = compose("loss=wgan", "loss.constraint=box_test", "loss.bound=0.02", "logger=none", *FAST)
    train(cfg, tmp_path)
    assert len(seen) == 2 * 5 and max(seen) == pytest.approx(0.02)  # steps x n_critic


# --- a data source: one class and one config node ------------------------------------------


class Circle(DataSource):
    """Points on a circle of radius `radius`: a data source written for this test."""

    kind = POINTS
    shape = (2,)

    def __init__(
        self,
        radius: Annotated[float, POSITIVE] = 1.0,
        batch_size: Annotated[int, POSITIVE_INT] = 64,
        heldout_size: Annotated[int, POSITIVE_INT] = 200,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        self.radius, self.batch_size, self.device = radius, batch_size, torch.device(device)
        self._gen = torch.Generator().manual_seed(seed)
        self.heldout = self._draw(heldout_size, torch.Generator().manual_seed(seed + 1))

    @classmethod
    def sample_shape(cls, **_) -> tuple[int, ...]:
        return cls.shape

    def _draw(self, n: int, gen: torch.Generator) -> Tensor:
        angle = 2 * math.pi * torch.rand(n, generator=gen)
        return (self.radius * torch.stack([angle.cos(), angle.sin()], 1)).to(self.device)

    def sample(self) -> Tensor:
        return self._draw(self.batch_size, self._gen)


def test_adding_a_data_source(registries, tmp_path):
    # the YAML file conf/data/circle.yaml would hold exactly this node
    node = {"_target_": f"{__name__}.Circle", "radius": 2.0, "batch_size": 64, "heldout_size": 200}
    ConfigStore.instance().store(group="data", name="circle", node=node)
    with pytest.raises(UserError, match="data.radius must be a positive number"):
        check(compose("data=circle", "data.radius=0"))
    final = train(compose("data=circle", "logger=none", *FAST), tmp_path)
    row = jsonl(tmp_path / "metrics.jsonl")[-1]
    assert "wasserstein/exact" in row  # points: the metrics of points data
    assert "modes/captured" not in row and "wasserstein/sliced" not in row  # no mixture
    assert (tmp_path / "samples" / "step_0000002.png").is_file()
    assert final["wasserstein/exact"] > 0


# --- a metric: one function with @register ------------------------------------------------


def test_adding_a_metric(registries, tmp_path):
    @metrics.register("radius_test", keys=("radius/mean",), kinds=(POINTS,), live=("radius/mean",))
    def mean_radius(ev: metrics.Evaluation) -> dict[str, float]:
        return {"radius/mean": ev.fake.norm(dim=1).mean().item()}

    assert "radius/mean" in metrics.scalar_names()  # the sweep summary reads this
    cfg = compose("metrics.eval=[exact_w1,radius_test]", "logger=none", *FAST)
    train(cfg, tmp_path)
    rows = jsonl(tmp_path / "metrics.jsonl")
    assert all(r["radius/mean"] > 0 for r in rows)
    assert all("modes/captured" not in r for r in rows)  # only what metrics.eval named
    with pytest.raises(UserError, match="metrics.eval: radius_test applies to points only"):
        check(compose("metrics.eval=[radius_test]", "data=mnist"))
