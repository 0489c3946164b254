"""What every layer may use, and which imports no other part of gan_cli: the one error
users see (errors.py), how a constructor declares its parameters (params.py), atomic
writes (atomic.py) and the terminal (console.py)."""
