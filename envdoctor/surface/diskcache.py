"""The surface engine's cache folder and its JSON files (written atomically, read leniently)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from envdoctor.env import cache


def cache_root() -> Path:
    """Where symbol indexes are cached: ``surface/`` under envdoctor's cache root."""
    return cache.cache_root() / "surface"


def safe_name(text: str) -> str:
    """``text`` usable as a file name."""
    return "".join(c if c.isalnum() or c in "._-+" else "_" for c in text)


def write_json(path: Path, data: Any) -> None:
    """Write a cache file atomically; a read-only cache is not an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def read_json(path: Path) -> Any:
    """A cache file's content, or None when it is missing or corrupt."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
