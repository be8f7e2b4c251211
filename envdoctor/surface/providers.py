"""Which distribution on the index provides an import name: ``cv2`` is opencv-python's, ``fitz``
pymupdf's, ``google.protobuf`` protobuf's.

An import name says nothing about its distribution, and the index cannot be searched by module.
So the candidates come from what the packages say: the distributions the importing package
requires (its Requires-Dist), then the spellings a distribution of that name would have
(``flash_attn`` -> ``flash-attn``, ``python-flash-attn``, ``pyflash-attn``).  Each candidate's
newest release is opened on the index (a wheel's file list, read by range requests) and answers
with its top-level import names; those answers are cached per distribution, so the map grows as
it is used and works offline afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from envdoctor.env.probe import canonical_name
from envdoctor.surface.diskcache import cache_root, read_json, write_json

BUDGET_S = 8.0
MAX_CANDIDATES = 12
CACHE_FILE = "providers.json"
CACHE_VERSION = 1


def name_variants(top: str) -> list[str]:
    """Distribution names an import name ``top`` is commonly published under."""
    base = canonical_name(top)
    return list(dict.fromkeys([base, f"python-{base}", f"py{base}", f"{base}-python"]))


class ProviderMap:
    """Distribution -> the top-level import names of its newest release on the index (cached)."""

    def __init__(self, index_urls: tuple[str, ...], offline: bool) -> None:
        self.index_urls, self.offline = index_urls, offline
        self.path = cache_root() / CACHE_FILE
        data = read_json(self.path)
        valid = isinstance(data, dict) and data.get("version") == CACHE_VERSION and isinstance(data.get("tops"), dict)
        self.tops: dict[str, list[str] | None] = data["tops"] if valid else {}
        self.dirty = False

    def top_levels(self, dist: str) -> list[str] | None:
        """The import names ``dist``'s newest release ships (None: not on the index, or unreadable)."""
        name = canonical_name(dist)
        if name in self.tops or self.offline:
            return self.tops.get(name)
        from envdoctor.surface import bisect

        files = bisect.release_files(name, self.index_urls)
        versions = bisect.usable_versions(files)
        found: list[str] | None = None
        if versions:
            release = bisect.open_index_release(name, versions[-1], files[versions[-1]])
            if release is not None and release.modules() is not None:
                found = sorted(release.top_level())
        self.tops[name] = found
        self.dirty = True
        return found

    def save(self) -> None:
        """Write new answers back to the cache."""
        if self.dirty:
            write_json(self.path, {"version": CACHE_VERSION, "tops": self.tops})
            self.dirty = False


def providers(module: str, candidates: Iterable[str] = (), index_urls: tuple[str, ...] | None = None,
              offline: bool = False, budget_s: float = BUDGET_S) -> list[str]:
    """The distributions that provide import name ``module``'s top-level package: the first of
    ``candidates`` (the importer's requirements: what it was written against) that ships it, else
    every usual spelling of the name that does (``jwt`` is shipped by both jwt and pyjwt: the
    caller says so); empty when none that could be read within ``budget_s`` ships it."""
    if index_urls is None:
        from envdoctor.env import pipconfig

        index_urls = pipconfig.read().urls
    top = module.split(".")[0]
    required = list(dict.fromkeys(canonical_name(c) for c in candidates))[:MAX_CANDIDATES]
    found = ProviderMap(index_urls, offline)
    deadline = time.monotonic() + budget_s

    def ships(name: str) -> bool:
        if time.monotonic() > deadline and name not in found.tops:
            return False
        return top in (found.top_levels(name) or ())

    try:
        for name in required:
            if ships(name):
                return [name]
        return [name for name in name_variants(top) if name not in required and ships(name)]
    finally:
        found.save()
