"""Check what each distribution uses of the distributions it depends on, in one target.

For every pair where A's Requires-Dist names B (extras included) and both are in the target,
A's unconditional module-level references into B (:mod:`envdoctor.surface.references`) are
answered against B's installed (or pinned) release (:mod:`envdoctor.surface.lookup`).  A
reference B's release does not have is a :class:`Breakage`, with B's release boundary
(:mod:`envdoctor.surface.bisect`) and the first release of A that no longer makes the
reference, so both sides get a concrete pin.

A lock or freeze that does not list B (a few pins pasted into an issue, a partial lock) still
gets B from pip when it is installed: A's references are then answered against the releases
A's requirement admits: the newest (what a fresh install resolves B to) and the oldest (the
lower bound A declares).  Either failing is a fact about A's metadata, not a guess at B.

Releases come from the installed files (live, ``--python``) or from the index (lock-file
targets; ``--offline`` reads the cache only).  Everything is cached per release, so a warm run
reads one JSON file per distribution and parses nothing; a cold run scans distributions in the
given priority order within :data:`SCAN_BUDGET_S` (:data:`FILE_SCAN_BUDGET_S` for a lock or
freeze, checked once rather than on every run) and leaves the rest for the next run.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import re
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import admits_python
from envdoctor.env.snapshot import Distribution, Snapshot
from envdoctor.surface.boundary import Boundary
from envdoctor.surface import diskcache
from envdoctor.surface.query import IN_BODY, Answer, Query, Reference

if TYPE_CHECKING:
    from envdoctor.env.index import IndexFile
    from envdoctor.surface.catalog import ReleaseSymbols

SCAN_BUDGET_S = 6.0  # new distributions scanned per run; the rest wait for the next run
FILE_SCAN_BUDGET_S = 20.0  # a lock or freeze is checked once (CI, a pasted freeze): completeness first
MAX_BISECTIONS = 6  # per run
BISECT_BUDGET_S = 20.0  # all bisections of one run together; probes are cached for the next
BODY_BUDGET_S = 8.0  # reading function bodies (file targets), after every pair and lower bound
WARM_CHUNK = 64  # files of a release fetched together while its references are read
MAX_REFERENCING_FILES = 3  # files of A read per probed release when looking for A's fix
MAX_BACK_STEPS = 8  # doubling steps back from the newest release, looking for one that still makes a reference
MAX_FILL_PROBES = 6  # then midpoints of the gaps between the releases read
MAX_FORMER_PROBES = 12  # index reads a run, looking for the distribution that stopped shipping a module
FORMER_STEPS = (1, 8, 32)  # releases back from the one in the target, looking for one that still shipped it
# what `pip freeze` leaves out without --all (pip's docs, cli/pip_freeze: pip, setuptools and wheel up
# to Python 3.11, pip from 3.12): a freeze that does not list them says nothing about them
NEVER_FROZEN = ("setuptools", "pip", "wheel")
RESULT_VERSION = 7  # of the per-target result cache (3: unlisted providers; 4: undeclared ones, stdlib removals;
#                    5: imports of modules nothing the install brings ships; 6: shadowed and vendored
#                    imports, subpackages load only the names routed into them; 7: no floor gap for a
#                    requirement without a lower bound)


@dataclass(frozen=True)
class Breakage:
    """A's reference into B that B's release does not have, and what would fix it."""

    user: str
    user_version: str
    provider: str
    provider_version: str
    reference: Reference
    answer: Answer
    boundary: Boundary | None = None
    user_fixed_in: str | None = None  # first release of A that no longer makes the reference
    more: tuple[Reference, ...] = ()  # the same query elsewhere in A
    public: bool | None = None  # whether A's public API loads a module making it (None: unknown)
    admitted: str | None = None  # B unlisted: "newest" admitted release, or "floor": the newest lacking one
    spec: str | None = None  # B unlisted: the requirement (all pins' together) that admits it
    undeclared: bool = False  # A's Requires-Dist does not name B: A relies on B being there
    script: bool = False  # the reference is made by a module that runs as a script (``__main__``) only

    def to_json(self) -> dict[str, object]:
        """JSON form (the per-target result cache)."""
        b = self.boundary
        return {"user": [self.user, self.user_version], "provider": [self.provider, self.provider_version],
                "refs": [r.to_json() for r in (self.reference, *self.more)],
                "answer": [self.answer.status, self.answer.reason, self.answer.message, self.answer.successor,
                           self.answer.absorbed, self.answer.deprecated],
                "boundary": None if b is None else {**{k: v for k, v in b.__dict__.items() if k != "query"},
                                                    "query": b.query.to_json()},
                "user_fixed_in": self.user_fixed_in, "public": self.public,
                "admitted": [self.admitted, self.spec], "undeclared": self.undeclared, "script": self.script}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Breakage:
        """Inverse of :meth:`to_json`."""
        refs = [Reference.from_json(r) for r in data["refs"]]
        b = data["boundary"]
        boundary = None if b is None else Boundary(**{**b, "query": Query(*b["query"])})
        return cls(data["user"][0], data["user"][1], data["provider"][0], data["provider"][1], refs[0],
                   Answer(*data["answer"]), boundary, data["user_fixed_in"], tuple(refs[1:]), data["public"],
                   data["admitted"][0], data["admitted"][1], bool(data["undeclared"]), bool(data["script"]))


@dataclass(frozen=True)
class ModuleUse:
    """A's unconditional import of a top-level module the target cannot give it: one the target's
    Python removed from the standard library (``removed``: that Python release), or one no
    distribution of the target, nor any a fresh install brings in, ships (``provider``: the
    distribution on the index that does)."""

    user: str
    user_version: str
    module: str  # the top-level name
    reference: Reference
    more: tuple[Reference, ...] = ()
    public: bool | None = None
    user_fixed_in: str | None = None  # first release of A that no longer imports it
    removed: str | None = None
    provider: str | None = None

    def to_json(self) -> dict[str, object]:
        """JSON form (the per-target result cache)."""
        return {"user": [self.user, self.user_version], "module": [self.module, self.removed, self.provider],
                "refs": [r.to_json() for r in (self.reference, *self.more)], "public": self.public,
                "user_fixed_in": self.user_fixed_in}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModuleUse:
        """Inverse of :meth:`to_json`."""
        refs = [Reference.from_json(r) for r in data["refs"]]
        module, removed, provider = data["module"]
        return cls(data["user"][0], data["user"][1], module, refs[0], tuple(refs[1:]), data["public"],
                   data["user_fixed_in"], removed, provider)


@dataclass
class CrossCheck:
    """The result: breakages and notes on what could not be checked."""

    breakages: list[Breakage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stdlib: list[ModuleUse] = field(default_factory=list)  # removed from the target's Python
    absent: list[ModuleUse] = field(default_factory=list)  # shipped by nothing the target installs
    checked_pairs: int = 0
    complete: bool = True  # every pair checked and every boundary bisected
    learned: int = 0  # releases read or cache entries written by this run (0: a run again changes nothing)


class Releases:
    """Opens the target's releases: installed files for live targets, the index for lock files."""

    def __init__(self, snap: Snapshot, offline: bool, index_urls: tuple[str, ...] | None = None) -> None:
        self.snap, self.offline = snap, offline
        self.live = not snap.source.startswith("file:")
        self._index_urls = index_urls
        self.opened: dict[str, ReleaseSymbols | None] = {}
        self.problems: dict[str, str] = {}

    @property
    def index_urls(self) -> tuple[str, ...]:
        """The configured indexes (read from pip's configuration when first needed)."""
        if self._index_urls is None:
            from envdoctor.env import pipconfig

            self._index_urls = pipconfig.read().urls
        return self._index_urls

    def complete(self) -> bool:
        """Whether every distribution of the target has a readable release (its file list known)."""
        return all((release := self.get(name)) is not None and release.modules() is not None
                   for name in self.snap.distributions)

    def get(self, name: str) -> ReleaseSymbols | None:
        """The symbol index of the target's release of ``name`` (None when it cannot be read)."""
        if name not in self.opened:
            self.opened[name] = self._open(self.snap.distributions[name])
        return self.opened[name]

    def _open(self, dist: Distribution) -> ReleaseSymbols | None:
        from envdoctor.surface.catalog import ReleaseSymbols
        from envdoctor.surface.sources import InstalledSource, SourceError

        if self.live:
            if not dist.location or not dist.location.endswith(".dist-info"):
                self.problems[dist.name] = "not installed from a wheel (no .dist-info RECORD)"
                return None
            try:
                return ReleaseSymbols.open(InstalledSource(dist.name, dist.version, Path(dist.location)))
            except SourceError as exc:
                self.problems[dist.name] = str(exc)
                return None
        from envdoctor.surface import bisect

        if self.offline:
            cached = ReleaseSymbols.cached(dist.name, dist.version)
            if cached is None:
                self.problems[dist.name] = "not in the symbol cache (offline)"
            return cached
        listing = bisect.release_files(dist.name, self.index_urls)
        version = dist.version if dist.version in listing else stand_in(dist.version, list(listing))
        if not version or not listing.get(version):
            self.problems[dist.name] = "no files on the index"
            return None
        return bisect.open_index_release(dist.name, version, listing[version])

    def save(self) -> int:
        """Write every release's new cache entries (how many releases had some)."""
        return sum(release.save() for release in self.opened.values() if release is not None)


def stand_in(version: str, released: list[str]) -> str | None:
    """The index's release that answers for ``version`` when the index does not list it: a local
    build's public release (``2.1.2+cu121`` -> ``2.1.2``, what the PyTorch index builds from the
    same tag), else for a pre-release or development build (``2.4.0a0+nv24.05``,
    ``4.39.0.dev0``) the final release it leads to, or the newest before it when that is not
    out; None when the version cannot be read or nothing fits.  Findings against a stand-in
    say so (:attr:`Breakage.provider_version` differs from the target's version)."""
    try:
        wanted = Version(version)
    except InvalidVersion:
        return None
    by_version = {}
    for text in released:
        try:
            by_version[Version(text)] = text
        except InvalidVersion:
            continue
    public = Version(wanted.public)
    if public in by_version:
        return by_version[public]
    base = Version(wanted.base_version)
    if not (wanted.is_prerelease or wanted.is_devrelease or wanted.local):
        return None
    if base in by_version:
        return by_version[base]
    older = [v for v in by_version if v < base and not v.is_prerelease]
    return by_version[max(older)] if older else None


def dependencies(dist: Distribution, snap: Snapshot) -> list[str]:
    """The target's distributions that ``dist``'s Requires-Dist names (any extra or marker)."""
    from packaging.requirements import InvalidRequirement, Requirement

    found = []
    for text in dist.requires:
        try:
            name = canonical_name(Requirement(text).name)
        except InvalidRequirement:
            continue
        if name in snap.distributions and name != dist.name and name not in found:
            found.append(name)
    return found


def references_of(release: ReleaseSymbols, deadline: float | None = None) -> list[Reference] | None:
    """A release's unconditional references, cached with the release; None when ``deadline``
    (a :func:`time.monotonic` value) passed first: what was read is kept, the next run goes on."""
    from envdoctor.surface.references import module_references, skipped
    from envdoctor.surface.sources import SourceError

    extra = release.data["extra"]
    if "references" not in extra:
        if release.source is None:
            return None
        partial = extra.setdefault("references_partial", {"done": [], "rows": []})
        done = set(partial["done"])
        try:
            release.source.prefetch()
        except SourceError:
            pass
        own = frozenset(release.top_level())
        pending = [(module, path) for module, path in sorted((release.modules() or {}).items()) if module not in done]
        for i, (module, path) in enumerate(pending):
            if deadline is not None and time.monotonic() > deadline:
                release.dirty = release.dirty or i > 0  # kept: the next run goes on from here
                return None
            if i % WARM_CHUNK == 0:  # a wheel too large to read whole: its next files in a few requests
                release.source.warm([p for _, p in pending[i:i + WARM_CHUNK] if p.endswith(".py") and not skipped(p)])
            partial["rows"] += [r.to_json() for r in module_references(release, path, module, own)]
            partial["done"].append(module)
        extra["references"] = extra.pop("references_partial")["rows"]
        release.dirty = True
    return [Reference.from_json(row) for row in extra["references"]]


def body_references_of(release: ReleaseSymbols, tops: Iterable[str], refs: list[Reference]) -> list[Reference]:
    """What the release's function bodies use of ``tops`` (:func:`references.body_references`),
    cached with the release per set of top-level names."""
    from envdoctor.surface.references import body_references

    wanted = frozenset(tops) - release.top_level()
    key = ",".join(sorted(wanted))
    memo = release.data["extra"].setdefault("body_references", {})
    if key not in memo:
        memo[key] = [r.to_json() for r in body_references(release, wanted, frozenset(release.top_level()), refs)]
        release.dirty = True
    return [Reference.from_json(row) for row in memo[key]]


def answer_cached(release: ReleaseSymbols, query: Query, deadline: float | None = None) -> Answer | None:
    """:func:`answer`, memoised in the release's cache (unless unsettled); None when it is not
    memoised and ``deadline`` has passed."""
    from envdoctor.surface.lookup import answer

    key = json.dumps(query.to_json())
    memo = release.data["extra"].setdefault("answers", {})
    if key in memo:
        status, reason, message, successor, absorbed, deprecated = memo[key]
        return Answer(status, str(reason), message, successor, bool(absorbed), bool(deprecated))
    if deadline is not None and time.monotonic() > deadline:
        return None
    found = answer(release, query)
    if found.settled and release.failed() is None:  # a failed read (the network) may answer next time
        memo[key] = [found.status, found.reason, found.message, found.successor, found.absorbed, found.deprecated]
        release.dirty = True
    return found


def _belongs(release: ReleaseSymbols, module: str) -> bool:
    """Whether ``module`` is B's: B ships the top-level package itself (an ``__init__``), or a
    module on its path below a shared namespace package (``google.protobuf``)."""
    top = module.split(".")[0]
    if release.has_module(top):
        return True
    parts = module.split(".")
    return any(release.has_module(".".join(parts[:i])) for i in range(2, len(parts) + 1))


def user_fixed_in(user: str, version: str | None, refs: list[Reference], urls: tuple[str, ...],
                  offline: bool, anywhere: bool = False, budget_s: float | None = None) -> str | None:
    """The first release of ``user`` after ``version`` whose files that made the reference no
    longer make it unconditionally (bisected; None when every later release still does, or
    it cannot be told).  ``version`` None (the log does not say which release ran): the
    newest release must be free of it, and one that still makes it is searched for backwards
    in doubling steps, then the edge between is bisected.  ``anywhere``: any file of a release
    counts (every module-level reference of each probed release is read), for a traceback cut
    before the file that made it; ``budget_s`` bounds the probes' time."""
    if offline or not urls:
        return None
    deadline = None if budget_s is None else time.monotonic() + budget_s
    from envdoctor.surface import bisect
    from envdoctor.surface.bisect import ProbeStore
    from envdoctor.surface.references import snippet_references, tree_references

    query = refs[0].query
    paths = sorted({r.path for r in refs})[:MAX_REFERENCING_FILES]
    in_body = refs[0].guard == IN_BODY

    def reader(text: bytes, path: str, own: frozenset[str]) -> list[Reference]:
        """The references that count: a function body's too for a reference made in one."""
        if not in_body:
            return snippet_references(text.decode("utf-8", errors="replace"), path, own, "")
        try:
            return [r for r in tree_references(ast.parse(text), path, own) if r.guard is None]
        except (SyntaxError, ValueError):
            return []

    files = bisect.release_files(user, urls)
    versions = bisect.later(bisect.usable_versions(files), version)
    if not versions:
        return None
    store = ProbeStore(user)
    kind = "imports-anywhere" if anywhere else "references" if not in_body else "body-references"
    probes = store.probes(json.dumps([kind, [] if anywhere else paths, query.to_json()]))

    def still_references(i: int) -> bool | None:
        candidate = versions[i]
        if candidate not in probes and deadline is not None and time.monotonic() > deadline:
            return None
        if candidate not in probes:
            bisect.count_read()
        if candidate not in probes and anywhere:
            release = bisect.open_index_release(user, candidate, files[candidate])
            made = makes_anywhere(release, query, deadline) if release is not None else None
            if made is None:
                return None  # unreadable, or out of time: asked again next run
            probes[candidate] = made
            store.dirty = True
        if candidate not in probes:
            release = bisect.open_index_release(user, candidate, files[candidate])
            if release is not None and release.source is not None:
                release.source.warm(paths)
            texts = [release.source.read(p) if release and release.source else None for p in paths]
            if all(t is None for t in texts):  # the files are gone: the reference too, unless it moved
                probes[candidate] = None if release is None or spells_module(release, query.module) is not False \
                    else False
            else:
                own = frozenset(release.top_level()) if release else frozenset()
                probes[candidate] = any(r.query == query for path, t in zip(paths, texts) if t is not None
                                        for r in reader(t, path, own))
            store.dirty = True
        return probes[candidate]

    try:
        newest = len(versions) - 1
        if still_references(newest) is not False:
            return None
        low = 0 if version is not None else _still_referencing(newest, still_references)
        if low is None:
            return None
        if still_references(low) is False:
            return versions[low]
        found = bisect.transition(versions, low, newest, still_references)
        return versions[found[1]] if found else None
    finally:
        store.save()


def makes_anywhere(release: ReleaseSymbols, query: Query, deadline: float | None = None) -> bool | None:
    """Whether a module of the release makes the unconditional reference ``query`` (scripts, files
    with a ``__main__`` block, do not count: importing the package does not run them); only files
    that spell the name are parsed.  None when the release cannot be read whole, or ``deadline`` passes."""
    from envdoctor.surface.references import snippet_references
    from envdoctor.surface.sources import SourceError

    if release.source is None:
        return None
    word = (query.name or query.module.rsplit(".", 1)[-1]).encode()
    own = frozenset(release.top_level())
    try:
        release.source.prefetch()
        for path in sorted((release.modules() or {}).values()):
            if deadline is not None and time.monotonic() > deadline:
                return None
            text = release.source.read(path) if path.endswith(".py") else None
            if not text or word not in text or _MAIN_GUARD.search(text):
                continue
            if any(r.query == query for r in snippet_references(text.decode("utf-8", errors="replace"), path, own, "")):
                return True
    except (SourceError, OSError):
        return None
    return False


def spells_module(release: ReleaseSymbols, module: str) -> bool | None:
    """Whether any Python file of the release spells dotted ``module`` (which any reference into
    it must); None when the release cannot be read whole."""
    from envdoctor.surface.sources import SourceError

    if release.source is None:
        return None
    try:
        release.source.prefetch()
        word = module.encode()
        return any(word in (release.source.read(path) or b"") for path in (release.modules() or {}).values()
                   if path.endswith(".py"))
    except (SourceError, OSError):
        return None


def _still_referencing(newest: int, still_references: Callable[[int], bool | None]) -> int | None:
    """The newest release found that still makes the reference: back from ``newest`` in doubling
    steps (the last step at the oldest release), then, when none does, at the midpoints of the gaps
    between the releases read, wider gaps first (a use that spanned fewer releases than a step),
    at most :data:`MAX_FILL_PROBES` of them."""
    probed = [newest]
    step = 1
    for _ in range(MAX_BACK_STEPS):
        index = max(newest - step, 0)
        if still_references(index):
            return index
        probed.append(index)
        if index == 0:
            break
        step *= 2
    gaps = sorted(zip(probed[1:], probed), key=lambda gap: gap[0] - gap[1])  # (older, newer), widest first
    for _ in range(MAX_FILL_PROBES):
        if not gaps or gaps[0][1] - gaps[0][0] < 2:
            return None
        low, high = gaps.pop(0)
        middle = (low + high) // 2
        if still_references(middle):
            return middle
        gaps = sorted([*gaps, (low, middle), (middle, high)], key=lambda gap: gap[0] - gap[1])
    return None


def requirement_names(dist: Distribution, snap: Snapshot) -> list[str]:
    """The distributions pip installs for ``dist`` on the target: its active requirements
    (markers true for the target's Python and platform, extras only when asked)."""
    from envdoctor.env.requirements import active_requirements, requested_extras

    extras = requested_extras(snap).get(dist.name, ())
    return list(dict.fromkeys(canonical_name(r.name) for r in active_requirements(dist, snap, extras)
                              if canonical_name(r.name) != dist.name))


def admitted_unlisted(snap: Snapshot) -> dict[str, SpecifierSet]:
    """Each distribution a file target does not list but its pins require, with the range all
    their requirements on it admit together (what a fresh install of the file resolves within)."""
    from envdoctor.env.requirements import active_requirements, requested_extras

    extras = requested_extras(snap)
    found: dict[str, SpecifierSet] = {}
    for dist in snap.distributions.values():
        for req in active_requirements(dist, snap, extras.get(dist.name, ())):
            name = canonical_name(req.name)
            if name not in snap.distributions:
                found[name] = found.get(name, SpecifierSet()) & req.specifier
    return found


class _Run:
    """One check's work: the breakages found, what waits for the next run, and the bisection
    budget every pair shares."""

    def __init__(self, releases: Releases, offline: bool, deadline: float) -> None:
        self.releases, self.offline, self.deadline = releases, offline, deadline
        self.result = CrossCheck()
        self.waiting: list[str] = []
        self.bisections = 0
        self.bisect_deadline: float | None = None  # set by the first bisection
        self.other: dict[tuple[str, str], ReleaseSymbols | None] = {}  # unlisted providers' releases
        self.floors: list[tuple[Distribution, ReleaseSymbols, dict[Query, list[Reference]], str, list[str],
                                dict[str, list[IndexFile]], str]] = []
        self.cut = False  # a lower bound was left for the next run (time)
        self.body_tasks: list[tuple[Distribution, ReleaseSymbols, list[Reference], ReleaseSymbols, set[Query],
                                    str | None, str | None]] = []
        self.body_deadline: float | None = None  # set when the first function bodies are read
        self.paired: dict[str, set[str]] = {}  # user -> providers it does not declare, checked as pairs
        self.former_probes = 0
        self.owners: dict[str, list[ReleaseSymbols]] | None = None  # top-level name -> the releases shipping it
        self.installs: frozenset[str] | None = None  # what an install of the target has (closure())
        self.histories: dict[str, tuple[ReleaseSymbols | None, str | None, list[str], dict[str, list[IndexFile]]]] = {}

    @staticmethod
    def into(release: ReleaseSymbols, refs: list[Reference], target: ReleaseSymbols) -> dict[Query, list[Reference]]:
        """A's references into ``target``'s modules, by query."""
        mine, theirs = release.top_level(), target.top_level()
        belongs: dict[str, bool] = {}
        by_query: dict[Query, list[Reference]] = {}
        for ref in refs:
            module = ref.query.module
            if module.split(".")[0] in mine or module.split(".")[0] not in theirs:
                continue
            if module not in belongs:
                belongs[module] = _belongs(target, module)
            if belongs[module]:
                by_query.setdefault(ref.query, []).append(ref)
        return by_query

    def missing(self, dist: Distribution, by_query: dict[Query, list[Reference]], target: ReleaseSymbols,
                deadline: float | None = None) -> list[tuple[Query, list[Reference], Answer]]:
        """The queries ``target`` does not have, in source order (the scan's deadline, or the one
        given, passed: A waits for the next run)."""
        found = []
        for query, uses in sorted(by_query.items(), key=lambda item: (item[1][0].path, item[1][0].line)):
            answer = answer_cached(target, query, deadline or self.deadline)
            if answer is None:
                self.waiting.append(dist.name)
                break
            if answer.status is False:
                found.append((query, uses, answer))
        return found

    def pair(self, dist: Distribution, release: ReleaseSymbols, refs: list[Reference],
             target: ReleaseSymbols, undeclared: bool = False) -> None:
        """A listed pair: A's references against B's pinned (or installed) release, then what
        A's function bodies use of it (``undeclared``: A does not require B, it uses it anyway)."""
        failing = self.missing(dist, self.into(release, refs, target), target)
        for _, uses, answer in failing:
            self.result.breakages.append(self.breakage(dist, release, target, uses, answer, undeclared=undeclared))
        self.body_tasks.append((dist, release, refs, target, {q for q, _, _ in failing}, None, None))

    def bodies(self, dist: Distribution, release: ReleaseSymbols, refs: list[Reference], target: ReleaseSymbols,
               failed: set[Query], admitted: str | None = None, spec: str | None = None) -> None:
        """What A's function bodies use of ``target`` that it lacks (notes: they fail only when run).
        File targets only: an installed environment's check stays within its time budget, and a
        lock or freeze is checked once, where what a call would hit is worth the reading."""
        if self.releases.live:
            return
        self.body_deadline = self.body_deadline or time.monotonic() + BODY_BUDGET_S
        if time.monotonic() > self.body_deadline:  # read on the next run
            self.waiting.append(dist.name)
            return
        used = self.into(release, body_references_of(release, target.top_level(), refs), target)
        found = self.missing(dist, {q: u for q, u in used.items() if q not in failed}, target, self.body_deadline)
        absent = {(q.module, q.name) for q, _, _ in found if q.kwarg is None and q.attr is None} | \
            {(q.module, q.name) for q in failed}
        for query, uses, answer in found:
            if query.kwarg is None or (query.module, query.name) not in absent:  # a missing class, once
                self.result.breakages.append(self.breakage(dist, release, target, uses, answer, admitted, spec))

    def unlisted(self, dist: Distribution, release: ReleaseSymbols, refs: list[Reference], provider: str,
                 spec: SpecifierSet) -> ReleaseSymbols | None:
        """A pair whose B the file does not list: A's references against the newest release of B
        the pins' requirements admit for the target's Python (what a fresh install gets), then
        the first admitted release that has all the others (A's real lower bound on B)."""
        if time.monotonic() > self.deadline:  # the index reads wait for the next run
            self.waiting.append(dist.name)
            return None
        files, versions = self.admitted(provider, spec)
        newest = self.open_other(provider, versions[-1], files) if versions else None
        if newest is None or newest.modules() is None:
            return None
        self.result.checked_pairs += 1
        used = self.into(release, refs, newest)
        failing = self.missing(dist, used, newest)
        for _, uses, answer in failing:
            self.result.breakages.append(self.breakage(dist, release, newest, uses, answer, "newest", str(spec)))
        self.body_tasks.append((dist, release, refs, newest, {q for q, _, _ in failing}, "newest", str(spec)))
        needed = {q: uses for q, uses in used.items() if q not in {query for query, _, _ in failing}}
        if needed and len(versions) > 1 and not self.offline and any(
                s.operator in (">", ">=", "~=", "==", "===") for s in spec):  # no lower bound: no floor to test
            self.floors.append((dist, release, needed, provider, versions, files, str(spec)))
        return newest

    def admitted(self, provider: str, spec: SpecifierSet) -> tuple[dict[str, list[IndexFile]], list[str]]:
        """The provider's files on the index, and its releases ``spec`` and the target's Python admit."""
        from envdoctor.surface import bisect

        files = bisect.release_files(provider, self.releases.index_urls)
        python = Version(self.releases.snap.python_version)
        return files, [v for v in bisect.usable_versions(files) if spec.contains(v, prereleases=True)
                       and any(admits_python(f.requires_python, python) is not False for f in files[v] if not f.yanked)]

    def undeclared(self, dist: Distribution, release: ReleaseSymbols, refs: list[Reference],
                   provided: set[str]) -> None:
        """A's references into top-level names that neither A nor what it requires ships (``provided``):
        a module the target's Python removed from the standard library, one a listed distribution
        A does not declare ships (checked as a pair), or one such a distribution (or one A requires)
        shipped in earlier releases but no longer does (``pkg_resources`` and setuptools 82)."""
        from envdoctor.env import stdlib
        from envdoctor.surface import reach

        by_top: dict[str, list[Reference]] = {}
        for ref in refs:
            top = ref.query.module.split(".")[0]
            if top not in provided and top not in release.top_level():
                by_top.setdefault(top, []).append(ref)
        for top, uses in sorted(by_top.items()):
            if time.monotonic() > self.deadline:
                self.waiting.append(dist.name)
                return
            if stdlib.removed_in(top):
                removed = stdlib.removed_for(top, self.releases.snap.python_version)
                if removed:
                    self.result.stdlib.append(self.module_use(dist, release, top, uses, removed=removed))
                continue
            owner = self.owner(top, dist.name)
            if owner is not None:
                if owner.name not in self.paired.setdefault(dist.name, set()):
                    self.paired[dist.name].add(owner.name)
                    self.result.checked_pairs += 1
                    self.pair(dist, release, refs, owner, undeclared=dist.metadata_known)
                continue
            former = self.former_owner(top, dist)
            if former is None:
                self.absent(dist, release, top, uses)
                continue
            if reach.loaded_publicly(release, [u.path for u in uses]) is False:
                continue
            target, admitted, declared = former
            by_query: dict[Query, list[Reference]] = {}
            for ref in uses:
                by_query.setdefault(ref.query, []).append(ref)
            for _, failing, answer in self.missing(dist, by_query, target)[:1]:  # the module, once
                self.result.breakages.append(self.breakage(dist, release, target, failing, answer, admitted,
                                                           undeclared=not declared and dist.metadata_known))

    def owner(self, top: str, user: str) -> ReleaseSymbols | None:
        """The target's release (not ``user``'s) that ships top-level name ``top`` (the map of
        top-level names to releases is built once a run, on first use)."""
        if self.owners is None:
            self.owners = {}
            for name in sorted(self.releases.snap.distributions):  # the first by name wins
                release = self.releases.get(name)
                if release is not None:
                    for name_top in release.top_level():
                        self.owners.setdefault(name_top, []).append(release)
        return next((r for r in self.owners.get(top, []) if r.name != user), None)

    def former_owner(self, top: str, dist: Distribution) -> tuple[ReleaseSymbols, str | None, bool] | None:
        """(release, admitted, declared) of a distribution whose earlier releases shipped ``top`` but
        whose release here does not: the target's release of a listed one (admitted None), or for
        a lock or freeze the newest release of an unlisted one that ``dist`` requires or `pip
        freeze` leaves out (``"newest"``); ``declared``: ``dist`` requires it.  Candidates in that
        order, then the target's other distributions; each looks back :data:`FORMER_STEPS`
        releases, within :data:`MAX_FORMER_PROBES` index reads a run."""
        snap = self.releases.snap
        declared = requirement_names(dist, snap)
        file_target = not self.releases.live
        for name in dict.fromkeys([*declared, *NEVER_FROZEN, *sorted(snap.distributions)]):
            if name == dist.name or (name not in snap.distributions and not (file_target and (
                    name in declared or name in NEVER_FROZEN))):
                continue
            history = self.history(name)
            if history is None:
                return None  # out of probes or time
            here, admitted, versions, files = history
            if here is None or here.modules() is None or top in here.top_level():
                continue
            for back in FORMER_STEPS:
                if back > len(versions) or not self.probe():
                    break
                before = self.open_other(name, versions[-back], files)
                if before is not None and top in before.top_level():
                    return here, admitted, name in declared
        return None

    def probe(self) -> bool:
        """Spend one of the run's index reads for former owners (False: none left, or no time)."""
        if self.former_probes >= MAX_FORMER_PROBES or time.monotonic() > self.deadline or self.offline:
            return False
        self.former_probes += 1
        return True

    def history(self, name: str) -> tuple[ReleaseSymbols | None, str | None, list[str],
                                          dict[str, list[IndexFile]]] | None:
        """(the release here, admitted, earlier releases, files) of a former-owner candidate: the
        target's release when it lists one, else the newest on the index (``"newest"``); None when
        the run's probes or time ran out.  Read once a run."""
        from envdoctor.surface import bisect

        if name not in self.histories:
            if not self.probe():
                return None
            if name in self.releases.snap.distributions:
                here = self.releases.get(name)
                files = bisect.release_files(name, self.releases.index_urls) if here is not None else {}
                earlier = [v for v in bisect.usable_versions(files) if here and Version(v) < Version(here.version)]
                self.histories[name] = (here, None, earlier, files)
            else:
                files, versions = self.admitted(name, SpecifierSet())
                newest = self.open_other(name, versions[-1], files) if versions else None
                self.histories[name] = (newest, "newest", versions[:-1], files)
        return self.histories[name]

    def module_use(self, dist: Distribution, release: ReleaseSymbols, top: str, uses: list[Reference],
                   removed: str | None = None, provider: str | None = None) -> ModuleUse:
        """A's use of a module the target cannot give it, with A's first release that no longer makes it."""
        from envdoctor.surface import reach

        use = ModuleUse(dist.name, dist.version, top, uses[0], tuple(uses[1:]),
                        reach.loaded_publicly(release, [u.path for u in uses]), None, removed, provider)
        if self.offline:
            return use
        with self.bisection() as budget_s:
            fixed = user_fixed_in(dist.name, dist.version, uses, self.releases.index_urls, self.offline,
                                  budget_s=budget_s)
        return dataclasses.replace(use, user_fixed_in=fixed)

    @contextlib.contextmanager
    def bisection(self) -> Iterator[float]:
        """One bisection's time budget: what is left of the run's, or none once the run has done
        :data:`MAX_BISECTIONS` that read releases (those answered from the cache are free, so
        every run moves the waiting ones on)."""
        from envdoctor.surface import bisect

        self.bisect_deadline = self.bisect_deadline or time.monotonic() + BISECT_BUDGET_S
        before = bisect.probe_reads()
        yield 0.0 if self.bisections >= MAX_BISECTIONS else max(0.0, self.bisect_deadline - time.monotonic())
        if bisect.probe_reads() > before:
            self.bisections += 1

    def absent(self, dist: Distribution, release: ReleaseSymbols, top: str, uses: list[Reference]) -> None:
        """A's import of ``top``, which nothing a fresh install of the target brings ships: reported
        with the distribution the index says ships it (none found: nothing is said, the name may be
        anyone's), when ``import A`` always runs that import (not under a platform test or an
        ``except ImportError``, not in a corner only some users import, not in a source file an
        extension module shadows), A ships no vendored copy of ``top`` (``setuptools/_vendor``) and
        is no plugin ``top`` loads (:meth:`plugin_of`), every release of the target could be read
        and the install's closure is known."""
        from envdoctor.surface import providers, reach

        shadowed = release.shadowed()
        uses = [u for u in uses if u.path not in shadowed]
        if self.offline or not uses or release.ships_nested(top) or self.plugin_of(release, top) \
                or reach.loaded_publicly(release, [u.path for u in uses], strict=True) is not True:
            return
        closure = self.closure() if self.releases.complete() else None
        if closure is None:
            return
        shipping = providers.providers(top, index_urls=self.releases.index_urls,
                                       budget_s=max(0.0, self.deadline - time.monotonic()))
        if not shipping or set(shipping) & closure:
            return
        # what the install brings beyond the target's own releases may ship it under another name
        brought = closure - set(self.releases.snap.distributions)
        if brought and providers.any_ships(top, brought, self.releases.index_urls,
                                           budget_s=max(0.0, self.deadline - time.monotonic())) is not False:
            return
        self.result.absent.append(self.module_use(dist, release, top, uses, provider=shipping[0]))

    @staticmethod
    def plugin_of(release: ReleaseSymbols, top: str) -> bool:
        """Whether the release is a plugin of import name ``top``: it registers in an entry-point
        group of ``top``'s (matplotlib-inline's ``[matplotlib.backend]``), so ``top`` is what loads
        it, and without ``top`` nothing does."""
        return any(canonical_name(group.split(".")[0]).replace("-", "_") == canonical_name(top).replace("-", "_")
                   for group in release.entry_point_groups())

    def closure(self) -> frozenset[str] | None:
        """Every distribution an install of the target has (live) or brings in (a file: its pins and
        what they require, transitively, each at the newest release the requirements admit); None
        when that cannot be told within the run's time."""
        from envdoctor.env import closure

        if self.installs is None:
            snap = self.releases.snap
            self.installs = frozenset(snap.distributions) if self.releases.live else \
                closure.install_closure(snap, self.deadline) or frozenset()
        return self.installs or None

    def lower_bounds(self, preferred: list[str]) -> None:
        """The floors waiting from :meth:`unlisted`, the QLoRA stack's providers first, then those
        A uses most; each bisects within the run's shared bisection time."""
        rank = {name: i for i, name in enumerate(preferred)}
        self.floors.sort(key=lambda task: (rank.get(task[3], len(rank)), -len(task[2])))
        for dist, release, needed, provider, versions, files, spec in self.floors:
            self.bisect_deadline = self.bisect_deadline or time.monotonic() + BISECT_BUDGET_S
            if time.monotonic() > self.bisect_deadline:
                self.cut = True
                break
            below = self.floor(dist, needed, provider, versions, files)
            if below is not None:
                target, uses, answer = below
                self.result.breakages.append(self.breakage(dist, release, target, uses, answer, "floor", spec))

    def has_all(self, dist: Distribution, needed: dict[Query, list[Reference]], target: ReleaseSymbols) -> bool | None:
        """True when ``target`` has every query, False when it lacks one, None when it cannot be
        told: an answer is unknown, or the release ships none of the modules asked about (a
        placeholder, a different project under the name)."""
        if not {q.module.split(".")[0] for q in needed} & target.top_level():
            return None
        if self.missing(dist, needed, target, self.bisect_deadline):
            return False
        statuses = [answer_cached(target, query, self.bisect_deadline) for query in needed]
        return True if all(a is not None and a.status for a in statuses) else None

    def floor(self, dist: Distribution, needed: dict[Query, list[Reference]], provider: str,
              versions: list[str], files: dict[str, list[IndexFile]]
              ) -> tuple[ReleaseSymbols, list[Reference], Answer] | None:
        """The newest admitted release below the first one that has every reference (bisected on
        "has them all", probes cached), with the reference it lacks; None when the oldest
        admitted release has them all, or it cannot be told in the budget."""
        from envdoctor.surface import bisect
        from envdoctor.surface.bisect import ProbeStore

        store = ProbeStore(provider)
        probes = store.probes(json.dumps(["all-references", dist.name, dist.version]))

        def has_all(i: int) -> bool | None:
            version = versions[i]
            if version not in probes:
                if self.bisect_deadline is not None and time.monotonic() > self.bisect_deadline:
                    return None
                target = self.open_other(provider, version, files)
                if target is None or target.modules() is None:
                    return None
                status = self.has_all(dist, needed, target)
                if status is None:
                    return None  # unknown now (an answer, or the time, ran out): asked again next run
                probes[version] = status
                store.dirty = True
            return probes[version]

        try:
            low = 0  # placeholders and unreadable ancient releases give way to the next ones
            while has_all(low) is None and low < min(len(versions) - 2, bisect.UNREADABLE_LOW_TRIES):
                low += 1
            if has_all(len(versions) - 1) is not True or has_all(low) is not False:
                return None
            edge = bisect.transition(versions, low, len(versions) - 1, has_all)
        finally:
            store.save()
        if edge is None and time.monotonic() > (self.bisect_deadline or 0.0):
            self.cut = True
        target = self.open_other(provider, versions[edge[0]], files) if edge else None
        lacking = self.missing(dist, needed, target, self.bisect_deadline) if target is not None else []
        return (target, lacking[0][1], lacking[0][2]) if target is not None and lacking else None

    def open_other(self, provider: str, version: str, files: dict[str, list[IndexFile]]) -> ReleaseSymbols | None:
        """A release of a provider the target does not list, read from the index once per run."""
        from envdoctor.surface import bisect

        if (provider, version) not in self.other:
            self.other[(provider, version)] = bisect.open_index_release(provider, version, files[version])
        return self.other[(provider, version)]

    def breakage(self, dist: Distribution, release: ReleaseSymbols, target: ReleaseSymbols,
                 uses: list[Reference], answer: Answer, admitted: str | None = None,
                 spec: str | None = None, undeclared: bool = False) -> Breakage:
        """One failing reference, with B's boundary and A's fix when the budget allows bisecting."""
        from envdoctor.surface import bisect, reach

        query = uses[0].query
        boundary = fixed = None
        if not self.offline:
            with self.bisection() as budget_s:
                boundary = bisect.find_boundary(target.name, query, around=target.version,
                                                index_urls=self.releases.index_urls, progress=None,
                                                probe_budget=bisect.MAX_PROBES if budget_s else 0,
                                                time_budget_s=budget_s)
                if admitted != "floor":  # a floor gap is closed by a floor on B, not by moving A
                    fixed = user_fixed_in(dist.name, dist.version, uses, self.releases.index_urls, self.offline,
                                          budget_s=budget_s)
        else:
            boundary = bisect.find_boundary(target.name, query, around=target.version, offline=True, index_urls=())
        public = reach.loaded_publicly(release, [u.path for u in uses])
        script = public is False and all(runs_as_script(release, u.path) for u in uses)
        return Breakage(dist.name, dist.version, target.name, target.version, uses[0], answer, boundary, fixed,
                        tuple(uses[1:]), public, admitted, spec, undeclared, script)

    def save(self) -> int:
        """Write the new cache entries of every release read (how many releases had some)."""
        return self.releases.save() + sum(release.save() for release in self.other.values() if release is not None)


_MAIN_GUARD = re.compile(rb"^if\s+__name__\s*==\s*['\"]__main__['\"]\s*:", re.MULTILINE)


def runs_as_script(release: ReleaseSymbols, path: str) -> bool:
    """Whether the release's file at ``path`` is a script: it has a module-level
    ``if __name__ == "__main__":`` block (a conversion or command-line tool run with ``python -m``)."""
    from envdoctor.surface.sources import SourceError

    try:
        text = release.source.read(path) if release.source is not None else None
    except (SourceError, OSError):
        return False
    return text is not None and _MAIN_GUARD.search(text) is not None


def fingerprint(snap: Snapshot) -> str:
    """A key that changes whenever the target's Python or any of its distributions does: name,
    version and RECORD size and mtime when installed, name, version and known requirements when pinned."""
    if snap.source.startswith("file:"):
        parts = sorted(f"{d.name}=={d.version}:{d.metadata_known}:{';'.join(d.requires)}"
                       for d in snap.distributions.values())
    else:
        parts = []
        for dist in sorted(snap.distributions.values(), key=lambda d: d.name):
            try:
                stat = Path(dist.location or "", "RECORD").stat()
                parts.append(f"{dist.name}=={dist.version}:{stat.st_size}:{stat.st_mtime_ns}")
            except OSError:
                parts.append(f"{dist.name}=={dist.version}:-")
    return hashlib.sha256("\n".join([snap.source, snap.python_version, *parts]).encode()).hexdigest()[:24]


def check(snap: Snapshot, offline: bool = False, order: Iterable[str] = (),
          index_urls: tuple[str, ...] | None = None, scan_budget_s: float | None = None) -> CrossCheck:
    """Every dependency pair's failing references in ``snap``, from the result cache when the
    target has not changed since a complete run.

    ``order`` names distributions to scan first (the QLoRA stack); the others follow by name.
    """
    from envdoctor.surface.versions import PROBE_VERSION, SUMMARY_VERSION

    key = f"{fingerprint(snap)}-v{RESULT_VERSION}.{SUMMARY_VERSION}.{PROBE_VERSION}"  # any change of meaning: a miss
    if not offline and snap.source.startswith("file:"):
        import datetime

        key += f"-{datetime.date.today().isoformat()}"  # what the file leaves unlisted resolves to today's releases
    memo = diskcache.cache_root() / "checks" / f"{key}-{'offline' if offline else 'online'}.json"
    cached = diskcache.read_json(memo)
    if isinstance(cached, dict) and cached.get("version") == RESULT_VERSION:
        try:
            return CrossCheck([Breakage.from_json(b) for b in cached["breakages"]], list(cached["notes"]),
                              [ModuleUse.from_json(u) for u in cached["stdlib"]],
                              [ModuleUse.from_json(u) for u in cached["absent"]], int(cached["pairs"]))
        except (KeyError, TypeError, ValueError, IndexError):
            pass
    if scan_budget_s is None:
        scan_budget_s = FILE_SCAN_BUDGET_S if snap.source.startswith("file:") else SCAN_BUDGET_S
    result = _check(snap, offline, order, index_urls, scan_budget_s)
    if result.complete:
        diskcache.write_json(memo, {"version": RESULT_VERSION, "pairs": result.checked_pairs,
                                   "notes": result.notes, "breakages": [b.to_json() for b in result.breakages],
                                   "stdlib": [u.to_json() for u in result.stdlib],
                                   "absent": [u.to_json() for u in result.absent]})
    return result


def _check(snap: Snapshot, offline: bool, order: Iterable[str], index_urls: tuple[str, ...] | None,
           scan_budget_s: float) -> CrossCheck:
    from envdoctor.surface import bisect

    reads_before = bisect.probe_reads()
    releases = Releases(snap, offline, index_urls)
    run = _Run(releases, offline, time.monotonic() + scan_budget_s)
    result = run.result
    preferred = [canonical_name(n) for n in order]
    unlisted = {} if releases.live or offline else admitted_unlisted(snap)
    users = sorted(snap.distributions.values(),
                   key=lambda d: (preferred.index(d.name) if d.name in preferred else len(preferred), d.name))
    progress = sys.stderr.isatty()
    for number, dist in enumerate(users, 1):
        release = releases.get(dist.name)
        if release is None:
            continue
        if progress:
            sys.stderr.write(f"\rchecking the APIs {dist.name} uses ({number}/{len(users)})" + " " * 20)
            sys.stderr.flush()
        # outside the QLoRA stack a release gets half of what is left, so one huge release read member by
        # member (torch's wheel is too large to fetch whole) cannot starve every package after it
        now = time.monotonic()
        refs = references_of(release, run.deadline if dist.name in preferred else
                             min(run.deadline, now + max(0.0, run.deadline - now) / 2))
        if refs is None:
            run.waiting.append(dist.name)
            continue
        provided: set[str] | None = set()
        for provider in dependencies(dist, snap):
            target = releases.get(provider)
            if target is not None and target.modules() is not None:
                result.checked_pairs += 1
                run.pair(dist, release, refs, target)
                provided = None if provided is None else provided | target.top_level()
        for provider in requirement_names(dist, snap):
            newest = run.unlisted(dist, release, refs, provider, unlisted[provider]) if provider in unlisted else None
            if provider not in snap.distributions:  # unlisted (live: not installed, pip check's business)
                provided = None if newest is None or provided is None else provided | newest.top_level()
        if provided is not None:  # what A's requirements ship is known: the rest A relies on without saying
            run.undeclared(dist, release, refs, provided)
    run.lower_bounds(preferred)
    for task in run.body_tasks:
        run.bodies(*task)
    if progress:
        sys.stderr.write("\r" + " " * 70 + "\r")
        sys.stderr.flush()
    result.learned = run.save() + bisect.probe_reads() - reads_before
    waiting = list(dict.fromkeys(run.waiting))
    # an installed target's unreadable releases stay so until it changes; a pinned one's may be fetched later
    result.complete = (not waiting and not run.cut and (releases.live or not releases.problems)
                       and all(b.boundary is not None or offline for b in result.breakages))
    if waiting:
        result.notes.append(f"cross-package API check: {len(waiting)} packages not fully checked yet (first run, "
                            f"{scan_budget_s:.0f} s budget): {', '.join(waiting[:6])}"
                            f"{' and more' if len(waiting) > 6 else ''}; run `envdoctor check` again to finish")
    unbisected = sum(b.boundary is None for b in result.breakages)
    if unbisected and not offline:
        result.notes.append(f"cross-package API check: {unbisected} failing reference(s) wait for their release "
                            f"history ({MAX_BISECTIONS} bisections a run); run `envdoctor check` again to see them "
                            "with their boundaries")
    if run.cut:
        result.notes.append("cross-package API check: the lower bounds of some unlisted dependencies were not "
                            f"bisected within this run's {BISECT_BUDGET_S:.0f} s (probes are kept); run "
                            "`envdoctor check` again to go on")
    for name, problem in sorted(releases.problems.items()):
        if name in {d.name for d in users}:
            result.notes.append(f"cross-package API check skipped {name}: {problem}")
    return result
