"""AdaGAN (+boost=adagan): the reweighting rule against the paper's closed form, the
mixture weights, weighted sampling of any data source, and the rounds through gan-train:
one run folder, a mixture checkpoint gan-sample samples, and an exact resume mid-round."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_cli.cli.gan_train import main as train_main
from gan_cli.cli.launch import fit_round as train
from gan_cli.cli.sample import main as sample_main
from gan_cli.cli.sweep import job_labels
from gan_cli.config.build import data_source, generator, rebuild_generator
from gan_cli.config.spec import check
from gan_cli.data.official import MNIST
from gan_cli.data.toy2d import Toy2D
from gan_cli.testing import write_mnist
from gan_cli.training.boost import Builders, boost
from gan_cli.training.checkpoint import load_checkpoint
from gan_cli.training.mixture import Mixture, add_component, mixture_beta, theory_star
from tests.helpers import compose, jsonl, run_in_process


def test_theory_star_by_hand():
    """N = 10, the mixture misses two examples (h = 0) and matches the data on eight
    (h = 1), beta = 1/2: lambda = (N beta + (1 - beta) * 8) / 10 = 0.9, so the missed
    examples weigh 0.9 / 5 and the others (0.9 - 0.5) / 5."""
    h = torch.tensor([0.0, 0.0] + [1.0] * 8)
    w = theory_star(h, 0.5)
    assert torch.allclose(w, torch.tensor([0.18, 0.18] + [0.08] * 8, dtype=torch.float64))
    assert w.sum().item() == pytest.approx(1.0)


def test_a_mixture_missing_a_mode_puts_the_weight_on_that_mode():
    """Eight modes of 100 examples; the mixture covers seven with all its mass (ratio
    8/7 there) and misses the eighth (ratio 0). A new component of weight beta = 0.1
    (less than the missed mode's 1/8) is trained on the missed mode alone: lambda = N beta
    / 100 = 0.8 < (1 - beta) 8/7. With beta = 1/2 every example is kept, lambda = 1:
    the missed ones weigh 1 / (N beta), the others (1 - (1/2) 8/7) / (N beta)."""
    h = torch.cat([torch.zeros(100), torch.full((700,), 8 / 7)])
    w = theory_star(h, 0.1)
    assert w[:100] == pytest.approx(torch.full((100,), 0.01, dtype=torch.float64))
    assert (w[100:] == 0).all()
    w = theory_star(h, 0.5)
    assert w[0].item() == pytest.approx(1 / 400)
    assert w[-1].item() == pytest.approx((3 / 7) / 400)
    assert w.sum().item() == pytest.approx(1.0)


def test_mixture_weights_follow_the_rule():
    weights: list[float] = []
    for t in (1, 2, 3):
        weights = add_component(weights, mixture_beta(t, None))  # beta_t = 1/t
    assert weights == pytest.approx([1 / 3] * 3)
    weights = []
    for t in (1, 2, 3):
        weights = add_component(weights, mixture_beta(t, 0.5))
    assert weights == pytest.approx([0.25, 0.25, 0.5])


class Constant(nn.Module):
    z_dim = 1

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, z):
        return torch.full((len(z), 2), self.value)


def test_mixture_samples_in_the_proportion_of_its_weights():
    mixture = Mixture([Constant(0.0), Constant(1.0)], [0.25, 0.75], seed=3)
    x = mixture(torch.zeros(40_000, 1))
    share = (x[:, 0] == 1).double().mean().item()
    assert share == pytest.approx(0.75, abs=4 * (0.75 * 0.25 / 40_000) ** 0.5)


def test_weighted_sampling_of_points_and_images(tmp_path):
    points = Toy2D(batch_size=64)
    weights = torch.zeros(points.n_examples)
    weights[[3, 7]] = 1
    points.reweight(weights / 2)
    batch = points.sample()
    chosen = points.examples()[[3, 7]]
    assert all(any(torch.equal(x, c) for c in chosen) for x in batch)
    write_mnist(tmp_path, n_train=50, n_test=20)
    images = MNIST(root=str(tmp_path), batch_size=16, heldout_size=10, download=False)
    weights = torch.zeros(images.n_examples)
    weights[5] = 1
    images.reweight(weights)
    x, _ = images.sample_labelled()
    assert torch.equal(x, images.examples()[[5] * 16])
    images.reweight(None)  # back to uniform draws
    assert not torch.equal(images.sample(), images.examples()[[5] * 16])


ROUNDS = ["+boost=adagan", "boost.rounds=2", "boost.classifier_steps=50", "loss=vanilla"]
FAST = ["trainer.steps=60", "trainer.eval_every=30", "trainer.sample_every=0"]
FAST += ["data.heldout_size=300", "logger=none", "trainer.ckpt_every=30"]
CPU = torch.device("cpu")


def builders(train_round=train) -> Builders:
    """What gan-train hands AdaGAN, with another way to train a round where given."""
    return Builders(train_round, data_source, generator, job_labels)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """A 2-round AdaGAN run without interruption, through gan-train."""
    run = tmp_path_factory.mktemp("adagan") / "run"
    boost(check(compose(*ROUNDS, *FAST)), run, CPU, builders())
    return run


def test_one_run_folder_a_subfolder_a_round_and_the_mixture_at_the_top(straight):
    assert (straight / "round_01" / "checkpoints" / "last.pt").is_file()
    assert (straight / "round_02" / "metrics.jsonl").is_file()
    rows = jsonl(straight / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    assert {"modes/captured", "wasserstein/exact", "boost/beta"} <= set(rows[-1])
    assert rows[0]["boost/ignored_fraction"] >= 0
    assert (straight / "samples" / "round_02.png").is_file()
    state = load_checkpoint(straight / "checkpoints" / "last.pt")
    assert state["round"] == 2 and state["mixture"]["weights"] == pytest.approx([0.5, 0.5])
    # round 1 is the plain preset's run: its generator is the mixture's first component
    first = load_checkpoint(straight / "round_01" / "checkpoints" / "last.pt")["generator"]
    assert all(torch.equal(first[k], v) for k, v in state["mixture"]["components"][0].items())


def test_gan_sample_samples_the_mixture_in_its_weights(straight, tmp_path, capsys, monkeypatch):
    state = load_checkpoint(straight / "checkpoints" / "last.pt")
    G = rebuild_generator(state, True, torch.device("cpu"), seed=1)
    assert isinstance(G, Mixture)
    share = G.choose(20_000).double().mean().item()  # of the second component
    assert share == pytest.approx(0.5, abs=0.02)
    args = [f"checkpoint={straight}", "n=200", f"out={tmp_path / 'out'}"]
    code, output = run_in_process(sample_main, args, tmp_path, capsys, monkeypatch)
    assert code == 0, output
    assert (tmp_path / "out" / "samples.npz").is_file()


class Stop(Exception):
    pass


def test_an_interrupted_adagan_resumes_at_its_round_and_step(straight, tmp_path):
    """Stopped in round 2 at step 30 (its checkpoint written, the mixture's not): the
    resumed run keeps round 1, continues round 2 from step 30, and ends as the straight
    run did: the same metrics and the same mixture."""
    run = tmp_path / "run"

    def stopped(cfg, round_dir, weights):
        if round_dir.name == "round_02":
            cfg.trainer.steps = 30
            train(cfg, round_dir, weights)
            raise Stop
        return train(cfg, round_dir, weights)

    with pytest.raises(Stop):
        boost(check(compose(*ROUNDS, *FAST)), run, CPU, builders(stopped))
    assert load_checkpoint(run / "checkpoints" / "last.pt")["round"] == 1
    boost(check(compose(*ROUNDS, *FAST, "trainer.resume=auto")), run, CPU, builders())
    assert jsonl(run / "metrics.jsonl") == jsonl(straight / "metrics.jsonl")
    mine = load_checkpoint(run / "checkpoints" / "last.pt")["mixture"]["components"][1]
    theirs = load_checkpoint(straight / "checkpoints" / "last.pt")["mixture"]["components"][1]
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)


@pytest.mark.slow  # a whole run through the command: with the long runs
def test_adagan_through_the_command(tmp_path, capsys, monkeypatch):
    args = [*ROUNDS, *FAST, "trainer.steps=10", "hydra.run.dir=run"]
    code, output = run_in_process(train_main, args, tmp_path, capsys, monkeypatch)
    assert code == 0, output
    assert (tmp_path / "run" / "round_02" / "config.yaml").is_file()
    assert "gan-sample checkpoint=run " in output  # the mixture's folder, as typed
    again = [*args, "trainer.resume=auto"]
    code, output = run_in_process(train_main, again, tmp_path, capsys, monkeypatch)
    assert code == 2 and "has done round 2, boost.rounds is 2: raise boost.rounds" in output
    code, output = run_in_process(
        train_main, [*again, "boost.rounds=3"], tmp_path, capsys, monkeypatch
    )
    assert code == 0, output
    assert [r["step"] for r in jsonl(tmp_path / "run" / "metrics.jsonl")] == [1, 2, 3]
    code, output = run_in_process(train_main, args, tmp_path, capsys, monkeypatch)
    assert code == 2 and "already holds a run" in output  # nothing written over
    assert [r["step"] for r in jsonl(tmp_path / "run" / "metrics.jsonl")] == [1, 2, 3]
    code, output = run_in_process(
        train_main, ["+boost=adagan", "boost.beta=2"], tmp_path, capsys, monkeypatch
    )
    assert code == 2 and "boost.beta must be a number in (0, 1)" in output


def test_the_grid25_adagan_experiment_composes_and_takes_overrides():
    cfg = check(compose("+experiment=grid25_adagan"))
    assert cfg.boost.rounds == 10 and cfg.boost.beta is None and cfg.trainer.steps == 2500
    assert cfg.loss.objective._target_.endswith("Minimax") and cfg.loss.pack == 1  # plain GAN
    cfg = check(compose("+experiment=grid25_adagan", "data.distribution=ring8", "boost.rounds=3"))
    assert (cfg.data.distribution, cfg.boost.rounds) == ("ring8", 3)
