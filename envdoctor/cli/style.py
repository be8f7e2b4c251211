"""When the CLI colours its output: on a terminal, and never with ``NO_COLOR`` (https://no-color.org)."""

from __future__ import annotations

import os
from typing import IO


def use_color(stream: IO[str]) -> bool:
    """Colour for ``stream``: it is a TTY and ``NO_COLOR`` is unset or empty."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
