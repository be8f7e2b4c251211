"""Facts about the project's files, data and configs, gathered before rules run.

Placeholder until the files-and-data checks land: no project facts yet.
"""

from __future__ import annotations

from typing import Any


def collect(request: Any, snapshot: Any) -> None:
    """Return the project facts for ``request`` (none in this build)."""
    return None
