"""`make train` as it is finds every mode (slow: part of `make test-slow`, or run this file
by name)."""

import pytest

from gan_cli.cli.launch import fit_config as train
from tests.helpers import compose, jsonl


@pytest.mark.slow
def test_the_default_run_finds_every_ring8_mode(tmp_path):
    """`make train` as it is (1,500 steps of WGAN-GP on ring8): every mode captured and
    the exact W1 within three times the floor of finite samples (0.064)."""
    final = train(compose("logger=none"), tmp_path)
    assert final["modes/captured"] == 8
    assert final["wasserstein/exact"] < 0.2
    steps = [r["step"] for r in jsonl(tmp_path / "metrics.jsonl")]
    assert steps == list(range(25, 1501, 25))
