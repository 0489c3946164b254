"""Metrics computed outside the training graph. One concern a file."""
