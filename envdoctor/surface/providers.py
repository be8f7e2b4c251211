"""Which distribution on the index provides an import name: ``cv2`` is opencv-python's, ``fitz``
pymupdf's, ``google.protobuf`` protobuf's.

An import name says nothing about its distribution, and the index cannot be searched by module.
So the candidates come from what the packages say: the distributions the importing package
requires (its Requires-Dist), then the spellings a distribution of that name would have
(``flash_attn`` -> ``flash-attn``, ``python-flash-attn``, ``pyflash-attn``).  Each candidate's
newest release is opened on the index (a wheel's file list, read by range requests) and answers
with its top-level import names; those answers are cached per distribution, so the map grows as
it is used and works offline afterwards.

A class or function an error names without its module (``LlamaAttention.forward() missing ...``)
is looked for the same way: exported at a top level, else defined in one of the modules whose
dotted name shares the most words with the name's own (``LlamaRotaryEmbedding`` -> modules with
``llama``, ``rotary`` or ``embedding`` in their path, shortest first), read as text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from envdoctor.env.probe import canonical_name
from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.sources import SourceError
from envdoctor.surface.diskcache import cache_root, read_json, write_json

BUDGET_S = 8.0
MAX_CANDIDATES = 12
CACHE_FILE = "providers.json"
CACHE_VERSION = 5  # 3: defining modules under their own key (":defined"); 4: an export is the release's own;
#                   5: defining modules for class names only
MAX_MODULE_READS = 12  # modules read as text to find where a class or function is defined


DYNAMIC_EXPORTS = (b"import *", b"__getattr__", b"define_import_structure", b"globals()")


def _export_kind(release: ReleaseSymbols, top: str, name: str) -> str | None:
    """How ``top/__init__`` can export ``name``: ``"spelled"`` (it names it: an import or a lazy
    table), ``"dynamic"`` (it builds its namespace in a way only the full lookup can follow), or None."""
    path = (release.modules() or {}).get(top)
    if path is None or release.source is None:
        return None
    try:
        text = release.source.read(path) or b""
    except SourceError:  # an unreadable file: let the full lookup decide
        return "dynamic"
    if name.encode() in text:
        return "spelled"
    return "dynamic" if any(marker in text for marker in DYNAMIC_EXPORTS) else None


def name_words(name: str) -> set[str]:
    """The lower-case words of a CamelCase or snake_case name (``LlamaRotaryEmbedding`` -> llama, rotary, embedding)."""
    return {w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", name)}


def defining_module(release: ReleaseSymbols, name: str) -> str | None:
    """The module of ``release`` that defines class ``name`` (a ``class``/``def`` line), among the
    :data:`MAX_MODULE_READS` modules whose dotted names share most words with it.  Only for class
    names: a bare function or method name (``forward``) is defined in too many places to say whose."""
    if not name[:1].isupper():
        return None
    words, modules = name_words(name), release.modules() or {}
    ranked = sorted((-len(words & set(re.split(r"[._]", module.lower()))), len(module), module)
                    for module in modules)
    defines = re.compile(rb"^(?:class|def|async def)\s+" + re.escape(name.encode()) + rb"\b", re.MULTILINE)
    for score, _, module in ranked[:MAX_MODULE_READS]:
        if score == 0 or release.source is None:
            break
        try:
            text = release.source.read(modules[module]) or b""
        except SourceError:
            continue
        if defines.search(text):
            return module
    return None


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
        self.exports: dict[str, str | None] = data.get("exports", {}) if valid else {}
        self.opened: dict[str, ReleaseSymbols | None] = {}
        self.dirty = False

    def newest(self, dist: str) -> ReleaseSymbols | None:
        """The symbol index of ``dist``'s newest release on the index (None offline, or when absent)."""
        name = canonical_name(dist)
        if name not in self.opened:
            self.opened[name] = None
            if not self.offline:
                from envdoctor.surface import bisect

                files = bisect.release_files(name, self.index_urls)
                versions = bisect.usable_versions(files)
                if versions:
                    self.opened[name] = bisect.open_index_release(name, versions[-1], files[versions[-1]])
        return self.opened[name]

    def top_levels(self, dist: str) -> list[str] | None:
        """The import names ``dist``'s newest release ships (None: not on the index, or unreadable)."""
        name = canonical_name(dist)
        if name in self.tops or self.offline:
            return self.tops.get(name)
        release = self.newest(name)
        found = sorted(release.top_level()) if release is not None and release.modules() is not None else None
        self.tops[name] = found
        self.dirty = True
        return found

    def exporter(self, dist: str, name: str, stage: str = "dynamic") -> str | None:
        """The top-level package of ``dist``'s newest release that exports ``name`` (cached).

        ``stage`` ``"spelled"``: only packages whose ``__init__`` names it are asked (fast; a
        package that may export it dynamically is left undecided, not cached); ``"dynamic"``:
        every package that can export it; ``"defined"``: instead, the module that defines it
        (:func:`defining_module`)."""
        key = f"{canonical_name(dist)}:{name}{':defined' if stage == 'defined' else ''}"
        if key not in self.exports and not self.offline:
            from envdoctor.surface.lookup import answer, defines
            from envdoctor.surface.query import Query

            release = self.newest(dist)
            if stage == "defined":
                self.exports[key] = defining_module(release, name) if release is not None else None
            else:
                tops = [t for t in self.top_levels(dist) or () if not t.startswith("_")]
                kinds = {t: _export_kind(release, t, name) for t in tops} if release is not None else {}
                asked = [t for t, kind in kinds.items() if kind == "spelled" or (kind and stage == "dynamic")]
                found = next((t for t in asked if release is not None and answer(release, Query(t, name)).status
                              is True and defines(release, t, name)), None)  # not imported from elsewhere
                if found is None and stage == "spelled" and "dynamic" in kinds.values():
                    return None  # undecided: the dynamic stage asks it
                self.exports[key] = found
            if release is not None:
                release.save()
            self.dirty = True
        return self.exports.get(key)

    def save(self) -> None:
        """Write new answers back to the cache."""
        if self.dirty:
            write_json(self.path, {"version": CACHE_VERSION, "tops": self.tops, "exports": self.exports})
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


def any_ships(module: str, dists: Iterable[str], index_urls: tuple[str, ...], offline: bool = False,
              budget_s: float = BUDGET_S) -> bool | None:
    """Whether the newest release of any of ``dists`` ships import name ``module``'s top-level
    package: True, False, or None when one of them could not be read within ``budget_s``."""
    top = module.split(".")[0]
    found = ProviderMap(index_urls, offline)
    deadline = time.monotonic() + budget_s
    try:
        unknown = False
        for name in sorted(dists):
            if time.monotonic() > deadline and canonical_name(name) not in found.tops:
                return None
            tops = found.top_levels(name)
            if tops is None:
                unknown = True
            elif top in tops:
                return True
        return None if unknown else False
    finally:
        found.save()


def definers(name: str, candidates: Iterable[str], index_urls: tuple[str, ...] | None = None,
             offline: bool = False, budget_s: float = BUDGET_S) -> list[tuple[str, str]]:
    """[(distribution, module)] of the first of ``candidates`` (most likely first) whose newest
    release exports ``name`` at top level (``LoraConfig`` -> peft), else of the first that defines
    it in a module sharing its words (:func:`defining_module`), for an error that names a class
    without its module and no target to ask; cached per distribution and name."""
    if index_urls is None:
        from envdoctor.env import pipconfig

        index_urls = pipconfig.read().urls
    found = ProviderMap(index_urls, offline)
    deadline = time.monotonic() + budget_s
    try:
        # a top level that names it beats a module that defines it, found by its words; a top level
        # built at run time (transformers' lazy structure) is read whole only when neither found it
        for stage in ("spelled", "defined", "dynamic"):
            for dist in dict.fromkeys(canonical_name(c) for c in candidates):
                key = f"{dist}:{name}{':defined' if stage == 'defined' else ''}"
                if time.monotonic() > deadline and key not in found.exports:
                    continue
                top = found.exporter(dist, name, stage)
                if top:
                    return [(dist, top)]  # the most likely candidate that exports (or defines) it
        return []
    finally:
        found.save()
