"""matplotlib for the figures written to files."""

from __future__ import annotations


def pyplot():
    """matplotlib's pyplot drawing to files only (no display), imported on first use: it
    takes a second to import, which a command that only checks its input should not pay."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
