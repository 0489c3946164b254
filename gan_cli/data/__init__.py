"""Data sources: toy 2-D points and images, each a `base.DataSource` that says its kind."""
