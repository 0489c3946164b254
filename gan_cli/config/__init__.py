"""From text to objects, in one straight path: compose the command line's jobs
(compose.py; Hydra's private pieces in hydra_private.py), type them by the schema
(schema.py; the class a `_target_` names: targets.py), derive and check each once into
a run specification (spec.py, with the rules of checks.py), and build the data source
and the GAN from it (build.py). Imports training, the leaves and core; never the
commands."""
