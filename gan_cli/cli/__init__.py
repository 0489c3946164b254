"""The commands: gan-train (gan_train.py; its command line checked into a plan by
command_line.py, then launch.py hands it to Hydra; sweep.py and summary.py for sweeps),
gan-sample (sample.py), gan-plot (plot.py), gan-data (data.py) and gan-doctor
(doctor.py, doctor_try.py). Above every layer but the Python API (gan_cli.api), which
starts runs through launch.py as gan-train does."""
