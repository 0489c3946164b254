"""Where gan-cli keeps what it computes once and reuses: packed image folders, domain
classifiers (XDG_CACHE_HOME/gan-cli, by default ~/.cache/gan-cli)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gan-cli"
