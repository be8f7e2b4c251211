"""How many positional arguments a function takes in a release, read from its source.

``f() takes 3 positional arguments but 4 were given``: the caller was written for a release of
``f``'s distribution whose ``f`` takes one more.  Which distribution defines ``f`` is read from
the candidates' newest releases (only files that spell ``def f(`` are parsed), and the first
release whose ``f`` takes the given count is bisected on the index (:func:`bisect.first_true`).
Python counts ``self`` in a method's message, so a method's count includes it.
"""

from __future__ import annotations

import time
from typing import Any

from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.sources import SourceError

POSITIONAL = ("positional", "positional-only")


def definition(release: ReleaseSymbols, name: str, owner: str | None = None) -> tuple[dict[str, Any], bool] | None:
    """(signature, whether it is a method) of the first definition of function ``name`` in the
    release (``owner``: only as a method of that class); None when no module defines it.  Raises
    :class:`SourceError` when the release cannot be read."""
    word = f"def {name}(".encode()
    if release.source is None:
        raise SourceError(f"{release.name} {release.version}: no files to read")
    release.source.prefetch()  # every file is searched: one download, not a request per file
    for module, path in sorted((release.modules() or {}).items()):
        text = release.source.read(path) if path.endswith(".py") else None
        if not text or word not in text:
            continue
        summary = release.summary(module) or {}
        if owner is None and name in summary.get("functions", {}):
            return summary["functions"][name], False
        classes = summary.get("classes", {})
        for cls, body in ([(owner, classes[owner])] if owner in classes else [] if owner else classes.items()):
            if name in body.get("methods", {}):
                return body["methods"][name], True
    if release.problem:
        raise SourceError(release.problem)
    return None


def takes(signature: dict[str, Any], method: bool) -> int | None:
    """The most positional arguments a call may pass, as Python's message counts them (``self``
    included); None with ``*args`` (any number)."""
    if signature.get("var_pos"):
        return None
    return sum(1 for _, kind in signature["params"] if kind in POSITIONAL) + (1 if method else 0)


def accepts(release: ReleaseSymbols, name: str, given: int, owner: str | None = None) -> bool | None:
    """Whether the release's ``name`` takes ``given`` positional arguments (False when it does not
    define it; None when the release cannot be read)."""
    try:
        found = definition(release, name, owner)
    except (SourceError, OSError):
        return None
    if found is None:
        return False
    most = takes(*found)
    return most is None or most >= given


def first_accepting(dist: str, name: str, given: int, after: str | None, urls: tuple[str, ...],
                    owner: str | None = None, deadline: float | None = None) -> str | None:
    """The first release of ``dist`` after ``after`` (None: any) whose ``name`` takes ``given``
    positional arguments; None when the newest does not, or it cannot be told in time."""
    from envdoctor.surface import bisect

    files = bisect.release_files(dist, urls)
    versions = bisect.later(bisect.usable_versions(files), after)

    def status(i: int) -> bool | None:
        if deadline is not None and time.monotonic() > deadline:
            return None
        release = bisect.open_index_release(dist, versions[i], files[versions[i]])
        if release is None:
            return None
        answer = accepts(release, name, given, owner)
        release.save()
        return answer

    return bisect.first_true(versions, status)


def defines(dist: str, name: str, urls: tuple[str, ...], owner: str | None = None) -> bool:
    """Whether the newest release of ``dist`` on the index defines function ``name`` (False when it
    cannot be read)."""
    from envdoctor.surface import bisect

    release = bisect.newest_release(dist, urls)
    if release is None:
        return False
    try:
        found = definition(release, name, owner) is not None
    except (SourceError, OSError):
        return False
    release.save()
    return found
