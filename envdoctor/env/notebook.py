"""Is envdoctor running inside a notebook kernel (Jupyter, Colab, Kaggle)?

A notebook's ``!cmd`` runs the command on a pseudo-terminal, so ``isatty()`` is true although
nobody can answer a prompt: envdoctor must treat a kernel as non-interactive.  The kernel is
found by walking up the parent processes (``/proc/<pid>/stat``) to one whose command line runs
``ipykernel_launcher`` (or ``colab_kernel_launcher``, or ``-m ipykernel``); the hosted runtimes'
markers (``COLAB_RELEASE_TAG``, ``KAGGLE_KERNEL_RUN_TYPE``) and Jupyter's ``JPY_PARENT_PID``
count too.  The kernel's interpreter is its command line's first word when that is a path (a
venv's ``bin/python`` keeps its venv: ``/proc/<pid>/exe`` would resolve to the base binary),
else ``$VIRTUAL_ENV/bin/python`` from the kernel's environment, else its executable.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence

KERNEL_WORDS = ("ipykernel_launcher", "colab_kernel_launcher")
RUNTIME_MARKERS = ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "JPY_PARENT_PID")
MAX_DEPTH = 8
PROC = "/proc"


class Kernel:
    """A notebook kernel process above this one (a plain class: the replay path reads it before
    dataclasses would load)."""

    __slots__ = ("pid", "python", "cmdline")

    def __init__(self, pid: int, python: str, cmdline: tuple[str, ...]) -> None:
        self.pid = pid
        self.python = python
        self.cmdline = cmdline


def _cmdline(pid: int) -> tuple[str, ...]:
    try:
        with open(os.path.join(PROC, str(pid), "cmdline"), "rb") as handle:
            raw = handle.read()
    except OSError:
        return ()
    return tuple(word.decode("utf-8", "replace") for word in raw.split(b"\0") if word)


def _parent(pid: int) -> int | None:
    try:
        with open(os.path.join(PROC, str(pid), "stat"), encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces and parentheses
    return int(fields[1]) if len(fields) > 1 else None


def is_kernel_cmdline(words: Sequence[str]) -> bool:
    """Whether a command line starts a notebook kernel."""
    joined = " ".join(words)
    return any(word in joined for word in KERNEL_WORDS) or "-m ipykernel" in joined


def _python_of(pid: int, words: tuple[str, ...]) -> str:
    first = words[0] if words else ""
    if os.path.isabs(first) and "python" in os.path.basename(first):
        return first
    try:
        with open(os.path.join(PROC, str(pid), "environ"), "rb") as handle:
            environ = handle.read().split(b"\0")
    except OSError:
        environ = []
    for item in environ:
        if item.startswith(b"VIRTUAL_ENV="):
            return os.path.join(item.split(b"=", 1)[1].decode(), "bin", "python")
    try:
        return os.readlink(os.path.join(PROC, str(pid), "exe"))
    except OSError:
        return first


def kernel(start: int | None = None) -> Kernel | None:
    """The nearest notebook kernel among this process's ancestors, or None."""
    pid = _parent(start if start is not None else os.getpid())
    for _ in range(MAX_DEPTH):
        if pid is None or pid <= 1:
            return None
        words = _cmdline(pid)
        if is_kernel_cmdline(words):
            return Kernel(pid=pid, python=_python_of(pid, words), cmdline=words)
        pid = _parent(pid)
    return None


def in_notebook(environ: Mapping[str, str] | None = None) -> bool:
    """Whether envdoctor runs under a notebook kernel (so nobody can answer a prompt)."""
    environ = os.environ if environ is None else environ
    return any(marker in environ for marker in RUNTIME_MARKERS) or kernel() is not None


def command_line(argv: Sequence[str], confirm: bool = False) -> str:
    """How to write ``argv`` for the user: a notebook cell line (``!… --yes``) in a notebook."""
    words = list(argv)
    if in_notebook():
        if confirm and "--yes" not in words:
            words.append("--yes")
        return "!" + shlex.join(words)
    return shlex.join(words)
