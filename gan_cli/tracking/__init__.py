"""Where a run's numbers and images go, behind one interface (tracker.py: metrics.jsonl
and W&B, which never stop training) and the trackers beside W&B (backends.py:
TensorBoard and MLflow, `logger=[...]`). Imports only core: training, the sweeps and
their summaries use it."""
