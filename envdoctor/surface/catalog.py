"""The symbol index of one release: its module list and module summaries, parsed on demand.

Nothing is parsed until asked for: :meth:`ReleaseSymbols.summary` reads and summarises one
module (see :mod:`envdoctor.surface.symbols`) the first time it is needed.  Everything read is
kept in one JSON file per (name, version, source key) under :func:`cache_root`
(``$ENVDOCTOR_CACHE_DIR/surface``, else ``$XDG_CACHE_HOME/envdoctor/surface``), written back
by :meth:`ReleaseSymbols.save`; a release read from an index also leaves a pointer so that
``--offline`` finds it without the index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envdoctor.surface.diskcache import cache_root, read_json, safe_name, write_json
from envdoctor.env.probe import canonical_name
from envdoctor.surface.sources import Source, SourceError, is_package_file, module_files, shadowed_files
from envdoctor.surface.versions import SUMMARY_VERSION

CACHE_VERSION = 3  # 2: the source files extension modules shadow; 3: no answer memoised from a failed read
WHOLE_ARCHIVE_FILES = 16  # files of a subtree past which subtree_mentions fetches the whole archive once


class ReleaseSymbols:
    """Modules and module summaries of one release; ``source`` None means cache only (offline)."""

    def __init__(self, name: str, version: str, key: str, source: Source | None, data: dict[str, Any] | None) -> None:
        self.name, self.version, self.key, self.source = canonical_name(name), version, key, source
        fresh = {"cache_version": CACHE_VERSION, "summary_version": SUMMARY_VERSION,
                 "name": self.name, "version": version, "key": key, "modules": None, "shadowed": [], "summaries": {}, "extra": {}}
        valid = (isinstance(data, dict) and data.get("cache_version") == CACHE_VERSION
                 and data.get("summary_version") == SUMMARY_VERSION)
        self.data: dict[str, Any] = data if valid else fresh  # type: ignore[assignment]
        self.dirty = not valid
        self.problem: str | None = None
        self.parsed = 0  # modules parsed since opened (lookups bound what one answer may read)
        self._raw: dict[str, bytes | None] = {}  # read by mentions(), parsed by the next summary()
        self._tops: tuple[dict[str, str], frozenset[str]] | None = None  # (modules, their top-level names)

    # --- construction ----------------------------------------------------------------------

    @staticmethod
    def path_for(name: str, version: str, key: str) -> Path:
        """The cache file of one release read from one source."""
        return cache_root() / f"{safe_name(canonical_name(name))}-{safe_name(version)}-{safe_name(key)}.json"

    @staticmethod
    def _pointer(name: str, version: str) -> Path:
        return cache_root() / "latest" / f"{safe_name(canonical_name(name))}-{safe_name(version)}.txt"

    @classmethod
    def open(cls, source: Source, remember: bool = False) -> ReleaseSymbols:
        """The index of ``source``'s release, from the cache when present; ``remember`` leaves
        the offline pointer (index sources)."""
        data = read_json(cls.path_for(source.name, source.version, source.key))
        release = cls(source.name, source.version, source.key, source, data)
        if remember:
            pointer = cls._pointer(source.name, source.version)
            try:
                if not pointer.exists() or pointer.read_text(encoding="utf-8") != source.key:
                    pointer.parent.mkdir(parents=True, exist_ok=True)
                    pointer.write_text(source.key, encoding="utf-8")
            except OSError:
                pass
        return release

    @classmethod
    def cached(cls, name: str, version: str) -> ReleaseSymbols | None:
        """The cached index of a release last read from an index (offline use), or None."""
        try:
            key = cls._pointer(name, version).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        data = read_json(cls.path_for(name, version, key))
        return cls(name, version, key, None, data) if data else None

    # --- contents --------------------------------------------------------------------------

    def failed(self) -> str | None:
        """Why a read of this release failed in this process (None: every read succeeded); an answer
        that depends on a failed read is not kept, so that the next run reads it again."""
        return self.problem or getattr(self.source, "problem", None)

    def modules(self) -> dict[str, str] | None:
        """Module name -> file of every module in the release (None when unknown, offline)."""
        if self.data["modules"] is None and self.source is not None:
            try:
                files = self.source.files()
                self.data["modules"] = module_files(files)
                self.data["shadowed"] = shadowed_files(files)
            except (SourceError, OSError) as exc:
                self.problem = str(exc)
                return None
            self.dirty = True
        return self.data["modules"]

    def top_level(self) -> set[str]:
        """The release's top-level import names (a copy: callers may change it)."""
        modules = self.modules()
        if modules is None:
            return set()
        if self._tops is None or self._tops[0] is not modules:
            self._tops = (modules, frozenset(m.split(".")[0] for m in modules))
        return set(self._tops[1])

    def shadowed(self) -> frozenset[str]:
        """The release's ``.py`` files that an extension module of the same name shadows
        (:func:`~envdoctor.surface.sources.shadowed_files`): never run, so their imports are
        not the release's."""
        self.modules()
        return frozenset(self.data["shadowed"])

    def ships_nested(self, top: str) -> bool:
        """Whether the release ships a package or module named ``top`` below its own top level:
        a vendored copy it can put on ``sys.path`` (setuptools' ``_vendor``, since 71) so that
        ``import top`` finds it."""
        return any(top in module.split(".")[1:] for module in self.modules() or {})

    def entry_point_groups(self) -> list[str]:
        """The entry-point groups the release registers in (its ``*.dist-info/entry_points.txt``:
        ``matplotlib.backend`` for a backend matplotlib loads); empty when it has none or
        cannot be read.  Kept with the release."""
        extra = self.data["extra"]
        if "entry_point_groups" not in extra and self.source is not None:
            groups: list[str] = []
            try:
                path = next((f for f in self.source.files() if f.endswith(".dist-info/entry_points.txt")
                             and f.count("/") == 1), None)
                text = self.source.read(path) if path else None
            except (SourceError, OSError):
                return []
            for line in (text or b"").decode("utf-8", errors="replace").splitlines():
                line = line.strip()
                if line.startswith("[") and line.endswith("]"):
                    groups.append(line[1:-1].strip())
            extra["entry_point_groups"] = groups
            self.dirty = True
        return list(extra.get("entry_point_groups", []))

    def has_module(self, module: str) -> bool | None:
        """Whether the release ships ``module`` (None when its file list is unknown)."""
        mods = self.modules()
        return None if mods is None else module in mods

    def _path(self, module: str) -> str | None:
        path = (self.modules() or {}).get(module)
        return None if path is None or path.startswith("native:") or self.source is None else path

    def mentions(self, module: str, words: tuple[bytes, ...]) -> bool | None:
        """Whether ``module``'s source text contains any of ``words`` (None: already summarised,
        or unreadable).  A cheap test before parsing: a module that never spells a name and has
        no construct that binds names the text does not spell cannot export it."""
        if module in self.data["summaries"]:
            return None
        path = self._path(module)
        if path is None or self.source is None:
            return None
        try:
            text = self.source.read(path)
        except SourceError as exc:
            self.problem = str(exc)
            return None
        if text is None:
            return None
        found = any(word in text for word in words)
        if found:
            self._raw[module] = text
        return found

    def subtree_mentions(self, module: str, word: bytes) -> bool | None:
        """Whether any source file of ``module`` or the modules below it contains ``word``
        (None: a file could not be read).  Names a package exports through its submodules'
        ``__all__`` (``define_import_structure``) are spelled somewhere in that subtree."""
        if self.source is None:
            return None
        prefix = module + "."
        paths = [path for name, path in (self.modules() or {}).items()
                 if (name == module or name.startswith(prefix)) and not path.startswith("native:")]
        if len(paths) > WHOLE_ARCHIVE_FILES:
            self.read_whole()
        else:
            try:
                self.source.warm(paths)
            except (SourceError, OSError):
                pass
        found: bool | None = False
        for path in paths:
            try:
                text = self.source.read(path)
            except SourceError:
                text = None
            if text is None:
                found = None
            elif word in text:
                return True
        return found

    def native_mentions(self, module: str, word: str) -> bool | None:
        """Whether an extension module's binary contains ``word`` (None: unreadable, or larger than
        a member read allows).  A compiled module cannot bind a name its binary never spells:
        method tables, type slots and Cython's string tables keep names as plain bytes.  Kept in
        the release's cache, so a binary is read once per name asked."""
        path = (self.modules() or {}).get(module, "")
        if not path.startswith("native:") or self.source is None:
            return None
        memo = self.data["extra"].setdefault("native_words", {})
        key = f"{module}:{word}"
        if key not in memo:
            try:
                binary = self.source.read(path.removeprefix("native:"))
            except SourceError:
                binary = None
            if binary is None:
                return None
            memo[key] = word.encode() in binary
            self.dirty = True
        return bool(memo[key])

    def warm(self, modules: list[str]) -> None:
        """Fetch the source files of these modules (those not summarised yet) in few requests."""
        paths = [path for module in modules if module not in self.data["summaries"]
                 and (path := self._path(module)) is not None]
        if len(paths) > 1 and self.source is not None:
            try:
                self.source.warm(paths)
            except (SourceError, OSError) as exc:
                self.problem = str(exc)

    def read_whole(self) -> None:
        """Fetch the release's whole archive once when many of its modules are about to be read."""
        if self.source is not None:
            try:
                self.source.prefetch()
            except (SourceError, OSError) as exc:
                self.problem = str(exc)

    def summary(self, module: str) -> dict[str, Any] | None:
        """The summary of ``module``; None when it is absent, native or unreadable."""
        cached = self.data["summaries"].get(module)
        if cached is not None:
            return cached or None
        path = self._path(module)
        if path is None or self.source is None:
            return None
        try:
            text = self._raw.pop(module) if module in self._raw else self.source.read(path)
        except SourceError as exc:
            self.problem = str(exc)
            return None
        from envdoctor.surface import symbols  # parsing only on a cache miss

        result: dict[str, Any] = {}
        self.parsed += 1
        if text is not None:
            try:
                result = symbols.summarize(text, module, is_package_file(path))
            except (SyntaxError, ValueError, RecursionError):
                result = {}
        self.data["summaries"][module] = result
        self.dirty = True
        return result or None

    def save(self) -> bool:
        """Write what was read back to the cache (only when something new was read: True)."""
        if not self.dirty:
            return False
        write_json(self.path_for(self.name, self.version, self.key), self.data)
        self.dirty = False
        return True
