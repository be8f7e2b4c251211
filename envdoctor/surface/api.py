"""The surface engine's entry points for the rest of envdoctor (``explain`` calls these).

Nothing here imports or runs the packages asked about: answers come from their source read
with :mod:`ast`, from the installed files or the release's files on the package index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envdoctor.surface.boundary import Boundary
from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.query import Query
from envdoctor.surface.sources import InstalledSource, SourceError, find_dist_info, top_level_owners

ANYWHERE_BUDGET_S = 25.0  # reading whole releases for an importing file the traceback did not show
IMPORTERS_BUDGET_S = 12.0  # reading a freeze's other releases for the one that makes a failing import
LIKELY_BUDGET_S = 20.0  # reading widely used libraries' releases for one that imports a removed name
LIKELY_WORKERS = 4  # candidates read at once (the reads wait on the network)
ARITY_BUDGET_S = 20.0  # finding the definer of a function called with too many arguments, and its release

__all__ = ["Boundary", "SourceSpec", "first_release_without", "importers_of", "likely_importers", "module_owner",
           "positional_fix", "symbol_boundary", "symbol_status"]


@dataclass(frozen=True)
class SourceSpec:
    """Where :func:`symbol_status` reads a release from.

    ``site_packages``: folders searched first for an installed ``*.dist-info`` of exactly that
    version; ``index_urls``: the indexes to read the release's wheel (or sdist) from otherwise
    (None: pip's configured indexes); ``offline``: only the symbol cache.
    """

    site_packages: tuple[Path, ...] = ()
    index_urls: tuple[str, ...] | None = None
    offline: bool = False


def open_release(dist: str, version: str, source: SourceSpec) -> ReleaseSymbols | None:
    """The symbol index of ``dist==version``: installed files, else the cache (offline) or the index."""
    dist_info = find_dist_info(dist, list(source.site_packages), version) if source.site_packages else None
    if dist_info is not None:
        try:
            return ReleaseSymbols.open(InstalledSource(dist, version, dist_info))
        except SourceError:
            pass
    if source.offline:
        return ReleaseSymbols.cached(dist, version)
    from envdoctor.env import pipconfig
    from envdoctor.surface import bisect

    urls = source.index_urls if source.index_urls is not None else pipconfig.read().urls
    files = bisect.release_files(dist, urls)
    listed = bisect.on_list(version, list(files))  # 1.24 is 1.24.0; 2.1.2+cu121 is read as 2.1.2
    if listed in files:
        return bisect.open_index_release(dist, listed, files[listed])
    return ReleaseSymbols.cached(dist, version)


def symbol_status(dist: str, version: str, module: str, name: str | None = None, attr: str | None = None,
                  kwarg: str | None = None, *, source: SourceSpec | None = None, explicit: bool = False,
                  instance: bool = False) -> bool | None:
    """Whether release ``dist==version`` has ``module`` (and ``module.name``, its attribute
    ``attr``, or keyword ``kwarg`` of calling it).

    True: present (a keyword absorbed by ``**kwargs`` counts as accepted, unless ``explicit``:
    then it must be a named parameter; ``instance``: ``attr`` of an instance, which counts what
    the class's methods set on ``self``); False: absent;
    None: the source does not tell (an extension module, a base class from another
    distribution, a dynamic ``__getattr__``) or the release could not be read.
    Example: ``symbol_status("markupsafe", "2.1.0", "markupsafe", "soft_unicode")`` is False.
    """
    from envdoctor.surface.bisect import OtherReleases
    from envdoctor.surface.lookup import answer_through_bases

    source = source or SourceSpec()
    release = open_release(dist, version, source)
    if release is None:
        return None
    others = OtherReleases(source.index_urls, source.offline, source.site_packages)
    status = answer_through_bases(release, Query(module, name, attr, kwarg, explicit, instance), others).status
    release.save()
    return status


def symbol_boundary(dist: str, module: str, name: str | None = None, attr: str | None = None,
                    kwarg: str | None = None, *, around: str | None = None, index_url: str | None = None,
                    offline: bool = False, explicit: bool = False, instance: bool = False) -> Boundary | None:
    """The releases of ``dist`` that have the symbol, bisected over the index's release list.

    ``around``: the release to anchor on (the installed one; default the newest; one that lacks the
    symbol is also searched back from, so a name removed and added back shows both ranges);
    ``index_url``: a simple-API index (default: pip's configured indexes); ``offline``: cached
    probes and release list only.  None when neither the index nor the cache can answer.
    ``symbol_boundary("markupsafe", "markupsafe", "soft_unicode", around="2.1.0").describe()``
    gives "`markupsafe.soft_unicode` is in markupsafe up to 2.0.1 ..., removed in 2.1.0, its
    successor is `soft_str`".
    """
    from envdoctor.surface import bisect

    return bisect.find_boundary(dist, Query(module, name, attr, kwarg, explicit, instance), around=around,
                                index_urls=(index_url,) if index_url else None, offline=offline, earlier=True)


def first_release_without(user: str, version: str | None, path: str, module: str, name: str | None = None, *,
                          index_url: str | None = None, offline: bool = False, anywhere: bool = False) -> str | None:
    """The first release of ``user`` after ``version`` whose file ``path`` (``peft/peft_model.py``)
    no longer imports or references ``module.name`` at module level (bisected on the index;
    None when every later release still does, or it cannot be told, or offline).  ``version``
    None: the release that ran is unknown; the newest release must be free of the reference.
    ``anywhere``: any file of a release counts, not only ``path`` (a traceback cut short names a
    file above the one that made the import), within :data:`ANYWHERE_BUDGET_S`."""
    from envdoctor.env import pipconfig
    from envdoctor.surface.crosscheck import user_fixed_in
    from envdoctor.surface.query import Reference

    urls = (index_url,) if index_url else pipconfig.read().urls
    refs = [Reference(Query(module, name), path, 1)]
    return user_fixed_in(user, version, refs, urls, offline, anywhere, ANYWHERE_BUDGET_S if anywhere else None)


def importers_of(module: str, name: str | None, candidates: list[tuple[str, str]], source: SourceSpec,
                 budget_s: float = IMPORTERS_BUDGET_S) -> list[tuple[str, str]]:
    """[(distribution, file)] of the ``candidates`` (name, version) whose code imports ``module.name``
    (``name`` None: ``module`` or a submodule of it) unconditionally at module level, in order; the
    releases not read within ``budget_s`` are left for the next run (what was read is kept)."""
    import time

    from envdoctor.surface.crosscheck import references_of

    deadline = time.monotonic() + budget_s
    found: list[tuple[str, str]] = []
    for dist, version in candidates:
        if time.monotonic() > deadline:
            break
        release = open_release(dist, version, source)
        if release is None:
            continue
        refs = references_of(release, deadline) or []
        release.save()
        path = next((ref.path for ref in refs if ref.guard is None and ref.query.attr is None
                     and ref.query.kwarg is None and _imports(ref.query, module, name)), None)
        if path is not None:
            found.append((dist, path))
    return found


def likely_importers(module: str, name: str, provider: str, candidates: list[str], *, offline: bool = False,
                     budget_s: float = LIKELY_BUDGET_S) -> list[tuple[str, str]]:
    """[(distribution, first release that no longer imports it)] of the ``candidates`` whose newest
    release requires ``provider`` (or has no metadata on the index to say) and whose earlier
    releases import ``module.name`` unconditionally at import time, in the candidates' order: who
    may have made a failing import that the log does not attribute.  Releases are read within ``budget_s`` (their probes are kept, so a next run
    goes on); offline, nothing is read."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from envdoctor.env import fetch, index, pipconfig
    from envdoctor.env.probe import canonical_name
    from envdoctor.env.requirements import parse_requirement
    from envdoctor.surface import bisect
    from envdoctor.surface.crosscheck import user_fixed_in
    from envdoctor.surface.query import Reference

    config = pipconfig.read()
    if offline or not config.urls:
        return []
    deadline = time.monotonic() + budget_s

    def declares(candidate: str) -> bool:
        try:
            versions = bisect.usable_versions(bisect.release_files(candidate, config.urls))
            requires = index.requires_of(candidate, versions[-1], config) if versions else None
        except (fetch.FetchError, fetch.NotFound, OSError):
            return False
        if requires is None:
            return True  # no metadata on the index (an sdist-only project such as deepspeed): read it
        parsed = [parse_requirement(line) for line in requires]
        return any(r is not None and canonical_name(r.name) == provider and "extra" not in str(r.marker or "")
                   for r in parsed)

    def fixed_in(candidate: str) -> str | None:
        left = deadline - time.monotonic()
        if left <= 0 or not declares(candidate):
            return None
        return user_fixed_in(candidate, None, [Reference(Query(module, name), "", 1)], config.urls, offline,
                             anywhere=True, budget_s=left)

    names = [c for c in dict.fromkeys(canonical_name(c) for c in candidates) if c != provider]
    with ThreadPoolExecutor(max_workers=LIKELY_WORKERS) as pool:
        found = list(pool.map(fixed_in, names))
    return [(candidate, fixed) for candidate, fixed in zip(names, found) if fixed]


def positional_fix(name: str, given: int, candidates: list[str], *, owner: str | None = None,
                   installed: dict[str, str] | None = None, offline: bool = False,
                   budget_s: float = ARITY_BUDGET_S) -> tuple[str, str] | None:
    """(distribution, first release after the installed one whose ``name`` takes ``given``
    positional arguments) of the first of ``candidates`` whose newest release defines ``name``
    (``owner``: as a method of that class); None offline, or when none does in ``budget_s``."""
    import time

    from envdoctor.env import fetch, pipconfig
    from envdoctor.surface import arity

    urls = pipconfig.read().urls
    if offline or not urls:
        return None
    deadline = time.monotonic() + budget_s
    for dist in dict.fromkeys(candidates):
        if time.monotonic() > deadline:
            return None
        try:
            if not arity.defines(dist, name, urls, owner):
                continue
            first = arity.first_accepting(dist, name, given, (installed or {}).get(dist), urls, owner, deadline)
        except (fetch.FetchError, fetch.NotFound, OSError):
            continue
        return (dist, first) if first else None
    return None


def _imports(query: Query, module: str, name: str | None) -> bool:
    if name is not None:
        return query.module == module and query.name == name
    return query.module == module or query.module.startswith(module + ".")


def module_owner(module: str, site_packages: list[Path]) -> str | None:
    """The installed distribution (canonical name) that provides ``module``'s top-level package,
    read from each ``*.dist-info``'s ``top_level.txt`` or ``RECORD`` (first folder wins)."""
    return top_level_owners(site_packages).get(module.split(".")[0])
