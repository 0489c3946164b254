"""`make bench`: how fast gan-cli trains and how good its toy results are, measured side
by side with the obvious alternatives. `python -m bench [--quick] [--only PART ...]`;
results go to bench/results/<part>.json, tables to the terminal."""
