"""Facts about the paths a config names: existence, access, a same-named file nearby, free disk.

The search for a missing file looks in the nearest existing ancestor folders
and their subfolders (``datasets/``, ``data/``, ...), bounded in depth, folders
visited and time, because a file copied to the wrong Drive folder is usually
one level off.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from envdoctor.project.scan import SKIP_DIRS

SEARCH_UP = 2
SEARCH_DEPTH = 3
SEARCH_MAX_DIRS = 2_000
SEARCH_TIME_S = 1.0
MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class PathFacts:
    """One path named by a config key, and what is there.

    ``expect`` is ``file`` (read), ``dir`` (read) or ``output`` (a folder to
    create or write).  ``line`` and ``line_text`` are the config line naming
    it and ``written`` the value as written there, for an exact edit.
    """

    key: str
    path: Path
    expect: str
    exists: bool
    is_file: bool = False
    is_dir: bool = False
    readable: bool = False
    writable: bool = False
    nearby: tuple[Path, ...] = ()
    search_note: str | None = None
    free_bytes: int | None = None
    line: int | None = None
    line_text: str | None = None
    written: str | None = None


def nearest_existing(path: Path) -> Path | None:
    """``path`` or its closest ancestor that exists."""
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return candidate
        except OSError:
            continue
    return None


def _inside(path: Path, folders: tuple[Path, ...]) -> bool:
    return any(path.resolve().is_relative_to(folder.resolve()) for folder in folders)


def find_nearby(missing: Path, extra_roots: tuple[Path, ...] = (), time_s: float = SEARCH_TIME_S,
                within: tuple[Path, ...] = ()) -> tuple[tuple[Path, ...], str | None]:
    """Files named like ``missing`` near where it was expected, closest first, and a note when a bound was hit.

    With ``within`` (the project root and the config's folder) nothing outside those folders is
    searched or proposed: a same-named file in a sibling project is not this project's."""
    anchor = nearest_existing(missing.parent)
    roots: list[Path] = []
    if anchor is not None:  # never from the file-system root: that is a search of the whole disk
        roots += [p for p in (anchor, *list(anchor.parents)[:SEARCH_UP]) if p.parent != p]
    roots += [r for r in extra_roots if r not in roots]
    if within:
        roots = [r for r in roots if _inside(r, within)]
    found: list[Path] = []
    visited: set[Path] = set()
    deadline = time.monotonic() + time_s
    note = None
    for root in roots:
        queue = deque([(root, 0)])
        while queue:
            folder, depth = queue.popleft()
            if folder in visited:
                continue
            visited.add(folder)
            if len(visited) > SEARCH_MAX_DIRS or time.monotonic() > deadline:
                note = f"stopped after {len(visited) - 1} folders ({time_s:g} s / {SEARCH_MAX_DIRS} folder bound)"
                return _closest(found, missing), note
            candidate = folder / missing.name
            if candidate != missing and _is_file(candidate) and candidate not in found \
                    and (not within or _inside(candidate, within)):
                found.append(candidate)
            if depth >= SEARCH_DEPTH:
                continue
            try:
                with os.scandir(folder) as entries:
                    subfolders = sorted(Path(e.path) for e in entries
                                        if e.is_dir(follow_symlinks=False) and e.name not in SKIP_DIRS)
            except OSError:
                continue
            queue.extend((sub, depth + 1) for sub in subfolders)
    return _closest(found, missing), note


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False where the folder cannot be read (e.g. under /proc)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _closest(found: list[Path], missing: Path) -> tuple[Path, ...]:
    def distance(path: Path) -> int:
        common = len(os.path.commonpath([path, missing]).split(os.sep)) if path.is_absolute() else 0
        return (len(path.parts) - common) + (len(missing.parts) - common)

    return tuple(sorted(found, key=lambda p: (distance(p), str(p)))[:MAX_SUGGESTIONS])


def probe(key: str, path: Path, expect: str, search_roots: tuple[Path, ...] = ()) -> PathFacts:
    """What is at ``path``; for a missing input, same-named files nearby; for an output, free disk."""
    try:
        exists = path.exists()
        is_file, is_dir = path.is_file(), path.is_dir()
    except OSError:
        exists = is_file = is_dir = False
    readable = exists and os.access(path, os.R_OK | (os.X_OK if is_dir else 0))
    free = None
    if expect == "output":
        target = path if exists else nearest_existing(path)
        writable = target is not None and os.access(target, os.W_OK)
        if target is not None:
            try:
                free = shutil.disk_usage(target if target.is_dir() else target.parent).free
            except OSError:
                free = None
    else:
        writable = exists and os.access(path, os.W_OK)
    nearby: tuple[Path, ...] = ()
    note = None
    if not exists and expect == "file":
        nearby, note = find_nearby(path, search_roots, within=search_roots)
    return PathFacts(key=key, path=path, expect=expect, exists=exists, is_file=is_file, is_dir=is_dir,
                     readable=readable, writable=writable, nearby=nearby, search_note=note, free_bytes=free)
