"""The commands: gan-train (train.py, its command-line checks, sweeps and their summary)
and gan-sample (sample.py, with metrics=true's scoring). The top layer: it may import
every layer below (config, training, the leaves, core); nothing imports it."""
