"""Data sources. Each yields training batches with `sample()` and holds a fixed
held-out set in `heldout`; `shape` is the shape of one sample."""
