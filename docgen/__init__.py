"""The generated pages of the manual (docs/): the reference, from the code and conf/, and
the Results, from bench/results/ (bench.report). `python -m docgen` writes them;
`python -m docgen --check` says which committed page differs from what the code makes now."""
