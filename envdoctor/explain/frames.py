"""Traceback frames in a log: which installed package's code ran, and who called whom.

A traceback names files.  A file under ``site-packages`` (or ``dist-packages``) belongs to
an installed distribution: ``.../site-packages/peft/peft_model.py`` is module
``peft.peft_model``.  The frame that raised and the frame before it, in another package,
say who uses whose API.  Three printed forms are read: CPython's ``File "P", line N, in F``,
IPython's ``P in F`` / ``File P:N, in F`` and Colab's ``[P](link) in F``; the source line a
frame shows (``---> 38 from x import y`` in IPython) is kept with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

SITE_DIRS = ("site-packages", "dist-packages")
MAX_FRAME_LINE = 2000  # longer lines are not frames (bounds every pattern below)
_CPYTHON = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>\S+))?')
_IPYTHON = re.compile(r"^\s*(?:File )?\[?(?P<path>[^\s\[\]()\"']+\.py)(?:\]\([^)\s]*\))?"
                      r"(?::(?P<line>\d+))?,? in (?P<func>\S+)")
_IPYTHON_CODE = re.compile(r"^\s*-*> ?\d+\s(?P<code>.*)$")
_IPYTHON_CONTEXT = re.compile(r"^\s*\d+(?:\s|$)")  # IPython's numbered lines around the one that ran


@dataclass(frozen=True)
class Frame:
    """One frame: its file, line, function, dotted module (for site-packages files) and source line."""

    path: str
    line: int | None
    function: str | None
    module: str | None
    code: str | None = None

    @property
    def top(self) -> str | None:
        """The frame's top-level import name (``peft`` for ``peft.peft_model``), None outside site-packages."""
        return self.module.split(".")[0] if self.module else None


def site_path(path: str) -> str | None:
    """A file's path below site-packages (``peft/tuners/lora.py``), None outside it."""
    parts = PurePath(path.replace("\\", "/")).parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] in SITE_DIRS:
            return "/".join(parts[index + 1:])
    return None


def site_module(path: str) -> str | None:
    """The dotted module of a file below site-packages (``peft/tuners/lora.py`` → ``peft.tuners.lora``)."""
    inner = (site_path(path) or "").split("/")
    inner[-1] = inner[-1].split(".")[0]
    if inner[-1] == "__init__":
        inner.pop()
    return ".".join(inner) or None


def parse_frames(lines: Iterable[str]) -> list[Frame]:
    """The frames printed in ``lines``, oldest first, each with the source line shown under it."""
    frames: list[Frame] = []
    pending: Frame | None = None
    ipython = False
    for raw in lines:
        if len(raw) > MAX_FRAME_LINE:
            continue
        cpython = _CPYTHON.match(raw)
        match = cpython or (_IPYTHON.match(raw) if ".py" in raw else None)
        if match:
            if pending:
                frames.append(pending)
            path = match.group("path")
            number = match.group("line")
            pending = Frame(path, int(number) if number else None, match.group("func"), site_module(path))
            ipython = cpython is None
            continue
        if pending is None:
            continue
        if ipython and not _IPYTHON_CODE.match(raw) and _IPYTHON_CONTEXT.match(raw):
            continue  # a context line, not the one the frame ran
        text = raw.strip()
        code = m.group("code").strip() if (m := _IPYTHON_CODE.match(raw)) else text
        if pending.code is None and code and not text.startswith(("^", "~")):
            pending = Frame(pending.path, pending.line, pending.function, pending.module, code)
            if not _IPYTHON_CODE.match(raw):  # CPython prints one source line per frame
                frames.append(pending)
                pending = None
    if pending:
        frames.append(pending)
    return frames


@dataclass(frozen=True)
class Blame:
    """Who raised and who called: distribution names (None where the frames do not say)."""

    raiser: str | None
    caller: str | None
    raising: Frame | None
    calling: Frame | None


def blame(frames: Sequence[Frame], owner: Callable[[str], str]) -> Blame:
    """The distribution of the last site-packages frame and of the nearest earlier frame in another one.

    ``owner`` maps a top-level import name to its distribution.  A frame outside
    site-packages (the user's script) counts as the caller only when no installed
    package called the raiser.
    """
    raising = next((f for f in reversed(frames) if f.top), None)
    if raising is None:
        return Blame(None, None, None, frames[-1] if frames else None)
    raiser = owner(raising.top or "")
    index = frames.index(raising)
    for frame in reversed(frames[:index]):
        if frame.top and owner(frame.top) != raiser:
            return Blame(raiser, owner(frame.top), raising, frame)
    return Blame(raiser, None, raising, None)
