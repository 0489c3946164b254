"""One torchrun rank of `gan-train` for the DDP test: runs gan-train's main() and then
saves this rank's weights and a batch of its data to $GAN_TEST_RANKS/rank<R>.pt, so the
test can compare the ranks. (A test helper, not collected by pytest.)"""

import os
from pathlib import Path

import torch

from gan_cli.cli import gan_train as train
from gan_cli.training import loop

_train = loop.train


def _train_and_keep(gan, data, *args, **kwargs):
    metrics = _train(gan, data, *args, **kwargs)
    out = Path(os.environ["GAN_TEST_RANKS"])
    out.mkdir(parents=True, exist_ok=True)
    state = {name: net.module.state_dict() for name, net in gan.networks.items()}
    state["batch"] = data.sample()
    torch.save(state, out / f"rank{os.environ['RANK']}.pt")
    return metrics


loop.train = _train_and_keep
train.main()
