"""Which releases of a distribution have a symbol: bisection over the index's release list.

The release list comes from the configured index (PEP 691 JSON, else PEP 503 HTML, through
:mod:`envdoctor.index`); yanked files are skipped, and pre-releases unless a project has no
final release.  Each probed release is read from its wheel on the index by range requests
(only the modules the query needs; an sdist when there is no wheel) and answered by
:mod:`envdoctor.surface.lookup`.  Presence is assumed monotone on each side of the anchor
release (the installed one): the newest and the oldest release are probed, and where their
status differs from the anchor's a binary search finds the two neighbouring releases where it
changes, both probed.  A symbol the anchor lacks is searched for back from it too (it may have
lived in between, or been removed and added back later).  At most :data:`MAX_PROBES` releases
and :data:`TIME_BUDGET_S` seconds per query; every probe is cached (releases do not change), and the release list is cached for
``--offline``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from envdoctor.env import fetch, index, pipconfig
from envdoctor.env.probe import canonical_name
from envdoctor.surface import diskcache
from envdoctor.surface.boundary import Boundary
from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.lookup import answer, answer_through_bases, successor
from envdoctor.surface.versions import PROBE_VERSION
from envdoctor.surface.query import Query
from envdoctor.surface.sources import SdistSource, Source, WheelSource

MAX_PROBES = 28
UNREADABLE_LOW_TRIES = 3
GAP_PROBES = 6  # midpoints window() tries after its doubling steps found nothing
TIME_BUDGET_S = 30.0


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


_PAGES: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, list[index.IndexFile]]]] = {}
PAGE_TTL_S = 120.0  # one command reads a project's page once (a check asks for transformers' a dozen times)


def release_files(dist: str, index_urls: tuple[str, ...]) -> dict[str, list[index.IndexFile]]:
    """Version -> files of every release of ``dist`` on the first index listing it (read once per
    :data:`PAGE_TTL_S` in a process; a page that could not be fetched is asked for again)."""
    key = (canonical_name(dist), tuple(index_urls))
    seen = _PAGES.get(key)
    if seen is not None and time.monotonic() - seen[0] < PAGE_TTL_S:
        return seen[1]
    found = _release_files(dist, index_urls)
    if found is None:
        return {}
    _PAGES[key] = (time.monotonic(), found)
    return found


def _release_files(dist: str, index_urls: tuple[str, ...]) -> dict[str, list[index.IndexFile]] | None:
    """:func:`release_files` without the memo; None when an index could not be read."""
    failed = False
    for url in index_urls:
        try:
            files = index.project_files(url, dist)
        except fetch.NotFound:
            continue
        except fetch.FetchError:
            failed = True
            continue
        by_version: dict[str, list[index.IndexFile]] = {}
        for item in files:
            version = item.version()
            if version is not None:
                by_version.setdefault(str(version), []).append(item)
        if by_version:
            return by_version
    return None if failed else {}


def usable_versions(files: dict[str, list[index.IndexFile]], include_pre: bool = False) -> list[str]:
    """Versions with a file that is not yanked, oldest first; pre-releases only when asked or
    when there is no final release."""
    live = [v for v, items in files.items() if any(not i.yanked for i in items) and _version(v)]
    finals = [v for v in live if not Version(v).is_prerelease]
    chosen = live if include_pre or not finals else finals
    return sorted(chosen, key=Version)


def later(versions: list[str], version: str | None) -> list[str]:
    """The ``versions`` after ``version`` (all of them for None, or one PEP 440 cannot read)."""
    floor = _version(version) if version else None
    return versions if floor is None else [v for v in versions if Version(v) > floor]


def newest_release(dist: str, urls: tuple[str, ...]) -> ReleaseSymbols | None:
    """The symbol index of the newest usable release of ``dist`` on the first index listing it."""
    files = release_files(dist, urls)
    versions = usable_versions(files)
    return open_index_release(dist, versions[-1], files[versions[-1]]) if versions else None


def open_index_release(dist: str, version: str, files: list[index.IndexFile]) -> ReleaseSymbols | None:
    """The symbol index of one release from its wheel (else sdist) on the index."""
    wheels = [f for f in files if f.filename.endswith(".whl") and not f.yanked]
    pure = [f for f in wheels if f.filename.endswith("-none-any.whl")]
    pick = (pure or wheels)[0] if wheels else None
    source: Source
    if pick is not None:
        source = WheelSource(dist, version, pick.url, pick.filename)
    else:
        sdist = next((f for f in files if f.filename.endswith((".tar.gz", ".tgz")) and not f.yanked), None)
        if sdist is None:
            return None
        source = SdistSource(dist, version, sdist.url, sdist.filename)
    return ReleaseSymbols.open(source, remember=True)


class ProbeStore:
    """Cached probe results of one distribution (releases are immutable) and its release list."""

    def __init__(self, dist: str) -> None:
        self.dist = canonical_name(dist)
        self.path = diskcache.cache_root() / "probes" / f"{self.dist}.json"
        data = diskcache.read_json(self.path)
        fresh = isinstance(data, dict) and data.get("version") == PROBE_VERSION
        self.data: dict[str, Any] = data if fresh else {"version": PROBE_VERSION, "versions": None, "probes": {}}
        self.dirty = False

    def probes(self, key: str) -> dict[str, bool | None]:
        """Version -> status of one question (a query's JSON, or another stable key)."""
        return self.data["probes"].setdefault(key, {})

    def save(self) -> None:
        if self.dirty:
            diskcache.write_json(self.path, self.data)


class Progress:
    """``bisecting transformers: 5 releases read`` on a terminal's stderr; silent otherwise."""

    def __init__(self, dist: str, enabled: bool) -> None:
        self.dist, self.enabled, self.count = dist, enabled, 0

    def step(self, version: str) -> None:
        self.count += 1
        if self.enabled:
            sys.stderr.write(f"\rbisecting {self.dist}: read {self.count} releases (now {version})   ")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.count:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


class OtherReleases:
    """The newest release of another distribution, opened once per run (the bases a class takes
    from it answer keywords the class does not name); ``installed`` folders are asked first."""

    def __init__(self, urls: tuple[str, ...] | None, offline: bool, installed: tuple[Path, ...] = ()) -> None:
        self.urls, self.offline, self.installed = urls, offline, installed  # urls None: pip's, read when needed
        self.opened: dict[str, ReleaseSymbols | None] = {}

    def __call__(self, import_name: str) -> ReleaseSymbols | None:
        dist = canonical_name(import_name)
        if dist not in self.opened:
            self.opened[dist] = self._open(dist)
        return self.opened[dist]

    def _open(self, dist: str) -> ReleaseSymbols | None:
        from envdoctor.surface.sources import InstalledSource, SourceError, dist_info_version, find_dist_info

        info = find_dist_info(dist, list(self.installed)) if self.installed else None
        if info is not None:
            try:
                return ReleaseSymbols.open(InstalledSource(dist, dist_info_version(info), info))
            except SourceError:
                pass
        urls = self.urls if self.urls is not None or self.offline else pipconfig.read().urls
        if self.offline or not urls:
            versions = ProbeStore(dist).data.get("versions") or []
            return ReleaseSymbols.cached(dist, versions[-1]) if versions else None
        return newest_release(dist, urls)


def transition(versions: list[str], lo: int, hi: int, status_at: Callable[[int], bool | None]) -> tuple[int, int] | None:
    """Indexes (a, a+1) between ``lo`` and ``hi`` where the status changes (status(lo) != status(hi));
    an unreadable ``lo`` (an ancient release without a readable file) gives way to the next readable one."""
    low_status = status_at(lo)
    for _ in range(UNREADABLE_LOW_TRIES):
        if low_status is not None or lo + 1 >= hi:
            break
        lo += 1
        low_status = status_at(lo)
    if low_status is None:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        status = status_at(mid)
        probe = mid
        while status is None and probe + 1 < hi:  # an unreadable release: try its neighbours
            probe += 1
            status = status_at(probe)
        if status is None:
            return None
        if status == low_status:
            lo = probe
        else:
            hi = probe if probe == mid else mid
            if status_at(hi) is None:
                return None
    return lo, hi


def first_true(versions: list[str], status_at: Callable[[int], bool | None]) -> str | None:
    """The first of ``versions`` (oldest first) from which ``status_at`` holds, for a status that
    turns true once and stays: the newest must hold; back from it in doubling steps to one that does
    not (old releases stay unread), then the edge between is bisected.  None when the newest does not
    hold, or a status cannot be told."""
    if not versions:
        return None
    high = len(versions) - 1
    if status_at(high) is not True:
        return None
    step, low = 1, None
    while low is None:
        index = max(high - step, 0)
        status = status_at(index)
        if status is None:
            return None
        if status:
            if index == 0:
                return versions[0]
            high, step = index, step * 2
        else:
            low = index
    found = transition(versions, low, high, status_at)
    return versions[found[1]] if found else None


_READS = [0]  # releases read by probes in this process (a probe answered from the cache reads none)


def probe_reads() -> int:
    """How many releases bisection probes have read in this process: a caller that bounds its
    bisections per run counts only those that read something, so that answers already cached
    never crowd out the ones still waiting."""
    return _READS[0]


def count_read() -> None:
    """Count one release a probe read (see :func:`probe_reads`)."""
    _READS[0] += 1


def on_list(version: str, versions: list[str]) -> str:
    """``version`` as the release list spells it: the same release written otherwise (``1.24`` is
    ``1.24.0``), a local build as its release (``2.1.2+cu121``), a dev or pre-release the index does
    not list as the release it builds towards (``4.39.0.dev0`` -> ``4.39.0``); else ``version``."""
    wanted = _version(version)
    if wanted is None:
        return version
    for candidate in (wanted, Version(wanted.public), Version(wanted.base_version)):
        for listed in versions:
            if _version(listed) == candidate:
                return listed
    return version


def find_boundary(dist: str, query: Query, around: str | None = None, index_urls: tuple[str, ...] | None = None,
                  offline: bool = False, progress: bool | None = None,
                  probe_budget: int = MAX_PROBES, time_budget_s: float = TIME_BUDGET_S,
                  earlier: bool = False) -> Boundary | None:
    """Bisect ``dist``'s releases for ``query``; None when no release list or probe is available.

    ``around`` is the release to anchor on (usually the installed one); without it the newest
    release is the anchor.  ``earlier``: when the anchor lacks the symbol and a newer release
    added it, also search back from the anchor for an older range that had it (code written
    for that range breaks on the anchor too; its fix is the nearer one).
    """
    store = ProbeStore(dist)
    urls = tuple(index_urls) if index_urls is not None else pipconfig.read().urls
    files: dict[str, list[index.IndexFile]] = {}
    if not offline and urls:
        files = release_files(dist, urls)
    if files:
        versions = usable_versions(files, include_pre=bool(around and (_version(around) or Version("0")).is_prerelease))
        store.data["versions"], store.dirty = versions, True
    else:
        versions = list(store.data.get("versions") or [])
    around = on_list(around, versions) if around is not None else None
    if around is not None and around not in versions and _version(around) is not None:
        versions = sorted({*versions, around}, key=Version)
    if not versions:
        return None
    probes = store.probes(json.dumps(query.to_json()))
    started = time.monotonic()
    reporter = Progress(canonical_name(dist), sys.stderr.isatty() if progress is None else progress)
    budget = [probe_budget]
    releases: dict[str, ReleaseSymbols] = {}
    others = OtherReleases(urls, offline)

    def status_at(i: int) -> bool | None:
        version = versions[i]
        if version in probes:
            return probes[version]
        if budget[0] <= 0 or time.monotonic() - started > time_budget_s:
            return None
        budget[0] -= 1
        count_read()
        release = (open_index_release(dist, version, files[version]) if version in files
                   else None if not offline else ReleaseSymbols.cached(dist, version))
        if release is None:
            release = ReleaseSymbols.cached(dist, version)
        found = answer_through_bases(release, query, others) if release is not None else None
        status = found.status if found is not None else None
        if release is not None:
            releases[version] = release
            release.save()
        reporter.step(version)
        # over budget, or a read failed (the network, a read cut short): it may answer next time
        if found is not None and (status is not None or found.settled) and (release is None or release.failed() is None):
            probes[version] = status
            store.dirty = True
        return status

    try:
        anchor = versions.index(around) if around in versions else len(versions) - 1
        anchor_status = status_at(anchor)
        if anchor_status is None:
            return None
        newer = older = None
        complete = True
        if anchor < len(versions) - 1 and status_at(len(versions) - 1) not in (None, anchor_status):
            newer = transition(versions, anchor, len(versions) - 1, status_at)
            complete = complete and newer is not None
        elif anchor < len(versions) - 1 and status_at(len(versions) - 1) is None:
            complete = False
        if anchor > 0 and status_at(0) not in (None, anchor_status):
            older = transition(versions, 0, anchor, status_at)
            complete = complete and older is not None
        elif anchor > 0 and status_at(0) is None:
            complete = False
        cuts = [older, newer]
        if anchor_status is False and older is None and anchor > 1 and (newer is None or earlier):
            # absent from the anchor and the oldest release: it may have lived in between, and with
            # ``earlier`` also when a newer release has it (removed in 4.49, added back in 5.13)
            added, removed, found = window(versions, anchor, status_at)
            cuts += [added, removed]
            complete = complete and (found is None or (added is not None and removed is not None))
        boundary = _boundary(dist, query, versions, probes, cuts, complete)
        evidence = _evidence(dist, query, boundary, releases, files, offline)
        return boundary if evidence is None else evidence
    finally:
        reporter.close()
        store.save()


def window(versions: list[str], anchor: int, status_at: Callable[[int], bool | None]
            ) -> tuple[tuple[int, int] | None, tuple[int, int] | None, int | None]:
    """A symbol absent from the anchor and the oldest release may have lived in between (added in
    3.0, removed in 4.46): search back from the anchor in doubling steps (a recent removal is found
    in a probe or two) for a release that has it, then bisect both edges of that window.  Returns the
    (addition, removal) transitions and the index found (None: no probed release has it)."""
    tried = {0, anchor}

    def edges(index: int) -> tuple[tuple[int, int] | None, tuple[int, int] | None, int]:
        upper = min(i for i in tried if i > index and status_at(i) is False)  # cached: no new probes
        removed = transition(versions, index, upper, status_at)  # first: where it went
        added = transition(versions, 0, index, status_at)
        return added, removed, index

    step = 1
    while anchor - step > 0:
        tried.add(anchor - step)
        if status_at(anchor - step):
            return edges(anchor - step)
        step *= 2
    for _ in range(GAP_PROBES):  # doubling steps skip ever wider ranges: probe the middle of the widest
        points = sorted(tried)
        width, low = max((b - a, a) for a, b in zip(points, points[1:]))
        if width < 2:
            break
        tried.add(low + width // 2)
        if status_at(low + width // 2):
            return edges(low + width // 2)
    return None, None, None


def _boundary(dist: str, query: Query, versions: list[str], probes: dict[str, bool | None],
              cuts: list[tuple[int, int] | None], complete: bool) -> Boundary:
    """Turn the transitions found into ranges (only transitions both of whose sides were probed).

    ``added_in``/``first_with`` are the newest addition, ``removed_in``/``last_with`` the newest
    removal: with a symbol removed and added back, ``present`` holds both ranges.
    """
    events: list[tuple[bool, int, int]] = []  # (added, last index of the old status, first of the new)
    for a, b in sorted({c for c in cuts if c is not None}):
        if probes.get(versions[a]) is not None and probes.get(versions[b]) is not None \
                and probes[versions[a]] != probes[versions[b]]:
            events.append((bool(probes[versions[b]]), a, b))
    removed_in = added_in = last_with = first_with = None
    ranges: list[tuple[str | None, str | None]] = []
    start: str | None = "" if events and not events[0][0] else None  # "": present from the oldest release
    for added, a, b in events:
        if added:
            added_in = first_with = start = versions[b]
        else:
            removed_in, last_with = versions[b], versions[a]
            if start is not None:
                ranges.append((start or None, versions[b]))
            start = None
    if start is not None:
        gone = [v for v in versions if probes.get(v) is False and Version(v) > Version(start or "0")]
        if start and gone:  # gone again later, where the edge between was not readable
            complete = False
            last_with = max((v for v in versions if probes.get(v) and Version(v) < Version(gone[0])), key=Version)
        ranges.append((start or None, gone[0] if start and gone else None))
    present = [",".join(part for part in (f">={lo}" if lo else "", f"<{hi}" if hi else "") if part)
               for lo, hi in ranges]
    if not events and any(probes.get(v) for v in versions):
        present = [">=0"] if complete else []
        having = [v for v in versions if probes.get(v)]
        if not complete and not any(probes.get(v) is False for v in versions if Version(v) > Version(having[0])):
            first_with = having[0]  # the edge below it was not found (unreadable releases): from here on, as probed
            present = [f">={first_with}"]
    return Boundary(dist=canonical_name(dist), query=query, present=present, removed_in=removed_in,
                    added_in=added_in, last_with=last_with, first_with=first_with,
                    probed={v: probes[v] for v in versions if v in probes}, complete=complete)


def _evidence(dist: str, query: Query, boundary: Boundary, releases: dict[str, ReleaseSymbols],
              files: dict[str, list[index.IndexFile]], offline: bool) -> Boundary | None:
    """Add what the last release with the symbol says about it (deprecation message, successor)."""
    version = boundary.last_with
    if version is None:
        return None
    release = releases.get(version) or (ReleaseSymbols.cached(dist, version) if offline or version not in files
                                        else open_index_release(dist, version, files[version]))
    if release is None:
        return None
    found = answer(release, query)
    name = successor(release, query) or found.successor
    release.save()
    return dataclasses.replace(boundary, message=found.message if found.deprecated else boundary.message,
                               successor=name)
