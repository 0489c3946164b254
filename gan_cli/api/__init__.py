"""gan-cli from Python: load a trained generator, train a run, evaluate a checkpoint.

    import gan_cli
    run_dir, metrics = gan_cli.train("loss=wgan_gp", "trainer.steps=2000")
    G = gan_cli.load(run_dir)          # a checkpoint, a run folder or an exported generator
    x = G.sample(64, seed=7)           # gan-sample seed=7's samples
    G.export("generator.pt2")          # runs where gan-cli is not installed

The same code paths as the commands: gan-train's checks and run folder, gan-sample's
rebuild and sampling, gan-sample metrics=true's scores.
"""

from gan_cli.api.generator import Generator, load
from gan_cli.api.runs import Trained, evaluate, train

__all__ = ["Generator", "Trained", "evaluate", "load", "train"]
