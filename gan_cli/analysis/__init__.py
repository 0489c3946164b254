"""The analysis of finished runs, read from their folders: gan-plot's curves (curves.py),
a sweep's table and figures (sweep_table.py, sweep_figures.py) and the architecture
study's table (robustness.py). Nothing here trains; training/ imports none of it."""
