"""What every layer may use, and which imports no other part of gan_cli: the one error
users see (errors.py), how a constructor declares its parameters (params.py), plain
values and dotted keys (values.py), atomic writes (atomic.py), the terminal and a
command's one error line (console.py), what a run folder records (records.py), the
cache folder (cache.py), lazy imports (lazy.py) and matplotlib for files (plotting.py)."""
