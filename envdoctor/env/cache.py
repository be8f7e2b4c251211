"""Where envdoctor keeps its on-disk caches (tests point ``ENVDOCTOR_CACHE_DIR`` at a temp dir)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$ENVDOCTOR_CACHE_DIR``, else ``$XDG_CACHE_HOME/envdoctor`` (``~/.cache/envdoctor``)."""
    root = os.environ.get("ENVDOCTOR_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "envdoctor"
