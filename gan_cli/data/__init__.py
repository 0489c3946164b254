"""Data sources. Each has `shape` (one sample's shape), `sample()` (a training batch,
(batch_size, *shape), on its device), `heldout` (a fixed held-out set, (N, *shape)) and
`modes` (the (centres, std) of a Gaussian mixture, for mode coverage, or None)."""
