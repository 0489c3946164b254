"""From text to objects: composing the config (compose.py), its typed schema
(schema.py), the rules between keys (checks.py), and the one builder (build.py) that
turns a checked config into the data source and the GAN. Imports training, the leaves
and core; never the commands."""
