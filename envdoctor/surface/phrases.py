"""Which releases of a distribution raise an error message: its text searched in their source.

An error's message is written in the source of the package that raises it ("Dataset scripts
are no longer supported, but found {filename}").  :func:`windows` cuts the message as printed
into runs of words without the parts that vary (quoted values, paths, numbers, file names);
a release *says* the message when one of those runs occurs in one of its Python files, read
as bytes (nothing is parsed or run).  :func:`phrase_boundary` bisects the release list on the
index for the first release that says it: a message that appeared in a release is what that
release started refusing, and the release before it is the pin that avoids it.  Every probe
is cached by (distribution, message); a probed release's pure-Python wheel (or sdist) is
downloaded whole once.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from envdoctor.env import index
from envdoctor.surface import bisect
from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.sources import SourceError

WINDOW_WORDS = 5  # consecutive words a source must contain to say the message
MIN_WINDOW_CHARS = 24
MAX_WINDOWS = 24
PHRASE_PROBES = 12
PHRASE_BUDGET_S = 30.0
PHRASES_VERSION = 2

_PREFIX = re.compile(r"^\s*(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception|Warning):\s*")
_VARYING = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"|https?://\S+|\S*[/\\]\S*|\S*\d\S*|\S+\.[A-Za-z]{1,5}\b"
                      r"|\{[^}]*\}|<[^>]*>|\[[^\]]*\]")
_WORD = re.compile(r"[A-Za-z][\w-]*[,;:.!?]?")


def windows(message: str) -> tuple[str, ...]:
    """Runs of :data:`WINDOW_WORDS` words of ``message`` that its source would spell literally."""
    text = _PREFIX.sub("", message.strip())[:1000]
    found: list[str] = []
    for part in _VARYING.split(text):
        words = part.split()
        if not all(_WORD.fullmatch(w) for w in words):
            words = [w for w in words if _WORD.fullmatch(w)] if len(words) < WINDOW_WORDS else words
        for i in range(0, max(0, len(words) - WINDOW_WORDS + 1)):
            run = " ".join(words[i:i + WINDOW_WORDS]).rstrip(",;:")
            if len(run) >= MIN_WINDOW_CHARS and run not in found:
                found.append(run)
    return tuple(found[:MAX_WINDOWS])


def says(release: ReleaseSymbols, runs: tuple[str, ...], path: str | None = None) -> bool | None:
    """Whether ``release``'s Python files (``path``: that file alone; a release without it does not
    say it there) contain most of ``runs`` (None: unreadable)."""
    source = release.source
    modules = release.modules()
    if source is None or modules is None:
        return None
    if path is not None and path not in modules.values():
        return False
    try:
        if path is None:
            source.prefetch()
    except (SourceError, OSError):
        return None
    wanted = {run.encode() for run in runs}
    need = (len(wanted) + 1) // 2  # most of the message's runs: a few shared words are not the message
    seen: set[bytes] = set()
    readable = False
    for file in [path] if path is not None else modules.values():
        if file.startswith("native:"):
            continue
        text = source.read(file)
        if text is None:
            continue
        readable = True
        seen.update(w for w in wanted - seen if w in text)
        if len(seen) >= need:
            return True
    return False if readable else None


@dataclass(frozen=True)
class PhraseBoundary:
    """Where a message appears in a distribution's releases."""

    dist: str
    added_in: str | None  # the first release that says it (None: every release checked does)
    last_without: str | None  # the release before it (checked: it does not)
    said_in: str  # a release that says it (the anchor, or one found before it)
    removed_in: str | None = None  # the first release after that no longer says it


def phrase_boundary(dist: str, message: str, around: str | None = None, offline: bool = False,
                    index_urls: tuple[str, ...] | None = None, literal: bool = False,
                    path: str | None = None) -> PhraseBoundary | None:
    """The first release of ``dist`` whose source says ``message`` (None: the anchor release, the
    installed one or else the newest, does not say it, or nothing could be read).  ``literal``:
    ``message`` is searched as it is (a requirement a version check spells, ``vllm>=0.4.3,<=0.6.2``),
    not cut into runs of words; ``path``: only that file is searched (a traceback's source line,
    ``transformers/utils/notebook.py``), and compiled releases are searched too."""
    runs = (message,) if literal else windows(message)
    if not runs:
        return None
    from envdoctor.env import pipconfig

    urls = tuple(index_urls) if index_urls is not None else pipconfig.read().urls
    store = bisect.ProbeStore(dist)
    files = bisect.release_files(dist, urls) if urls and not offline else {}
    if files:
        versions = bisect.usable_versions(files)
        store.data["versions"], store.dirty = versions, True
    else:  # offline: the release list and the probes cached by an earlier online search
        versions = list(store.data.get("versions") or [])
    if around is not None and around not in versions:
        return None
    if not versions:
        return None
    probes = store.probes(json.dumps(["says", PHRASES_VERSION, list(runs), *([path] if path else [])]))
    started, budget = time.monotonic(), [PHRASE_PROBES]

    def status_at(i: int) -> bool | None:
        version = versions[i]
        if version in probes or offline:
            return probes.get(version)
        if budget[0] <= 0 or time.monotonic() - started > PHRASE_BUDGET_S or version not in files:
            return None
        budget[0] -= 1
        release = bisect.open_index_release(dist, version, files[version]) \
            if path is not None or _pure(files[version]) else None
        status = says(release, runs, path) if release is not None else None
        if status is not None:
            probes[version], store.dirty = status, True
        return status

    try:
        anchor = versions.index(around) if around is not None else len(versions) - 1
        status = status_at(anchor)
        if status is None or (status is False and around is not None):
            return None
        if status is False:  # the newest release no longer says it: one before may
            added, removed, found = bisect.window(versions, anchor, status_at)
            if found is None or added is None or removed is None:
                return None
            return PhraseBoundary(dist, versions[added[1]], versions[added[0]], versions[found],
                                  versions[removed[1]])
        oldest = next((i for i in range(min(anchor, bisect.UNREADABLE_LOW_TRIES)) if status_at(i) is not None), None)
        if oldest is None:  # no old release could be read
            return None
        if status_at(oldest):
            return PhraseBoundary(dist, None, None, versions[anchor])
        edge = bisect.transition(versions, oldest, anchor, status_at)
        if edge is None:
            return None
        return PhraseBoundary(dist, versions[edge[1]], versions[edge[0]], versions[anchor])
    finally:
        store.save()


def _pure(files: list[index.IndexFile]) -> bool:
    """Whether the release has a pure-Python wheel, or only an sdist (compiled wheels are not searched:
    their messages live in binaries, and their archives are large)."""
    wheels = [f.filename for f in files if f.filename.endswith(".whl") and not f.yanked]
    return any(name.endswith("-none-any.whl") for name in wheels) or not wheels
