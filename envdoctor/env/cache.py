"""Where envdoctor keeps its on-disk caches (tests point ``ENVDOCTOR_CACHE_DIR`` at a temp dir)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def cache_dir() -> str:
    """``$ENVDOCTOR_CACHE_DIR``, else ``$XDG_CACHE_HOME/envdoctor`` (``~/.cache/envdoctor``), as a string
    (the replay path asks before pathlib is loaded)."""
    root = os.environ.get("ENVDOCTOR_CACHE_DIR")
    if root:
        return root
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "envdoctor")


def cache_root() -> Path:
    """:func:`cache_dir` as a path."""
    from pathlib import Path

    return Path(cache_dir())
