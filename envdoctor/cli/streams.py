"""The standard streams as a shell tool treats them (stdlib only: the replay path uses it before click loads)."""

from __future__ import annotations

import os
import sys


def open_closed_streams() -> None:
    """A closed stdin, stdout or stderr (``>&-``) reads as empty and writes to nowhere, as for a shell tool."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is None:
            try:
                os.fstat(fd)
            except OSError:
                os.dup2(os.open(os.devnull, os.O_RDWR), fd)
            setattr(sys, name, open(fd, mode, encoding="utf-8", errors="replace", closefd=False))


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
