"""Exact W1 by optimal transport, against answers known in closed form."""

import numpy as np
import pytest
import scipy.stats
import torch

from gan_cli.metrics.exact_w1 import exact_w1


@pytest.mark.parametrize("theta", [-2.0, -0.3, 0.0, 0.5, 1.0, 3.0])
def test_parallel_segments(theta):
    # The WGAN paper's example: (0, Z) against (theta, Z). Matching each point to its
    # twin costs |theta|; any other matching costs more, so the sample W1 is exactly |theta|.
    z = torch.rand(2000, generator=torch.Generator().manual_seed(0))
    p = torch.stack([torch.zeros_like(z), z], 1)
    q = torch.stack([torch.full_like(z, theta), z], 1)
    assert exact_w1(p, q) == pytest.approx(abs(theta), abs=1e-6)


def test_point_set_against_itself_is_zero():
    x = torch.randn(500, 2, generator=torch.Generator().manual_seed(1))
    assert exact_w1(x, x) == pytest.approx(0.0, abs=1e-9)
    assert exact_w1(x, x[torch.randperm(500)]) == pytest.approx(0.0, abs=1e-9)


def test_matches_the_one_dimensional_formula():
    # In 1-D, W1 is the area between the CDFs (scipy computes it that way, independently).
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1, 700), rng.exponential(1.5, 300)
    expected = scipy.stats.wasserstein_distance(x, y)
    assert exact_w1(x[:, None], y[:, None]) == pytest.approx(expected, rel=1e-9)


def test_symmetric_and_translation():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(400, 2))
    assert exact_w1(x, y) == pytest.approx(exact_w1(y, x), rel=1e-9)
    # a translate by v: any coupling costs >= |E[X - Y]| = |v| (Jensen); the twins attain it
    shift = np.array([3.0, 4.0])
    assert exact_w1(x, x + shift) == pytest.approx(5.0, abs=1e-9)


def test_classes_score_is_the_inception_score_formula():
    from gan_cli.metrics.classifier import domain_score

    k = 10
    sure_of_one = torch.zeros(50, k)
    sure_of_one[:, 3] = 1
    assert domain_score(sure_of_one) == pytest.approx(1.0)
    sure_and_uniform = torch.eye(k).repeat(7, 1)  # each class as often, each image sure
    assert domain_score(sure_and_uniform) == pytest.approx(k)
    unsure = torch.full((40, k), 1 / k)
    assert domain_score(unsure) == pytest.approx(1.0)
    # any p(y|x): exp of the mean KL to the marginal, written out in numpy
    p = torch.rand(300, k, generator=torch.Generator().manual_seed(0)).double().softmax(1).numpy()
    kl = (p * (np.log(p) - np.log(p.mean(axis=0, keepdims=True)))).sum(axis=1)
    assert domain_score(torch.from_numpy(p)) == pytest.approx(np.exp(kl.mean()), rel=1e-12)


def test_the_inception_score_of_logits_is_its_formula_over_splits():
    """`is` from Inception's logits: the same formula, as torch-fidelity splits it."""
    from gan_cli.metrics.fid import inception_score

    k = 1008
    sure_of_one = torch.full((100, k), -30.0)
    sure_of_one[:, 5] = 30.0
    assert inception_score(sure_of_one)[0] == pytest.approx(1.0)
    sure_and_uniform = torch.full((k * 2, k), -30.0)
    sure_and_uniform[torch.arange(k * 2), torch.arange(k * 2) % k] = 30.0
    mean, std = inception_score(sure_and_uniform, splits=1)
    assert mean == pytest.approx(k, rel=1e-6) and std == 0
    # random logits, 4 splits: exp of the mean KL to each split's marginal, in numpy
    logits = torch.randn(400, 7, generator=torch.Generator().manual_seed(1)).double() * 3
    order = np.random.RandomState(2020).permutation(400)  # torch-fidelity's shuffle
    scores = []
    for part in np.split(logits.numpy()[order], 4):
        p = np.exp(part - part.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        scores.append(np.exp((p * (np.log(p) - np.log(p.mean(0, keepdims=True)))).sum(1).mean()))
    mean, std = inception_score(logits, splits=4)
    assert mean == pytest.approx(np.mean(scores), rel=1e-9)
    assert std == pytest.approx(np.std(scores), rel=1e-9)
