"""The user's own scripts against the installed libraries.

Every Python file the project scan found is parsed (never run) and its uses of installed
libraries are collected with :func:`envdoctor.surface.references.tree_references`: imports,
attribute chains (``np.float``), keyword arguments of calls (``TrainingArguments(...)``,
``LoraConfig(...)``, ``BitsAndBytesConfig(...)``), function bodies included and guarded uses
(``try/except ImportError``, version checks) left out.  Each use is answered against the
release that provides the module; a missing one is bisected on the index for the release it
went away in (or arrived in) and for the successor the library's own deprecation messages name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from envdoctor.env.probe import canonical_name
from envdoctor.env.snapshot import Snapshot
from envdoctor.surface.boundary import Boundary
from envdoctor.surface.crosscheck import MAX_BISECTIONS, Releases, answer_cached
from envdoctor.surface.query import Answer
from envdoctor.surface.references import Reference, tree_references
from envdoctor.surface.sources import top_level_owners

MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class ScriptBreakage:
    """A use in the user's file that the installed release of ``dist`` does not have."""

    file: Path
    reference: Reference
    dist: str
    version: str
    answer: Answer
    boundary: Boundary | None

    @property
    def successor(self) -> str | None:
        """The replacing name the library's source gives."""
        return (self.boundary.successor if self.boundary else None) or self.answer.successor


def own_modules(files: list[Path], root: Path) -> frozenset[str]:
    """Top-level module names the project itself defines (its scripts and packages)."""
    names = set()
    for path in files:
        try:
            relative = path.relative_to(root)
        except ValueError:
            relative = Path(path.name)
        names.add(relative.parts[0].removesuffix(".py"))
    return frozenset(names)


def site_packages(snap: Snapshot) -> list[Path]:
    """The folders the target's installed distributions live in, in path order."""
    return list(dict.fromkeys(Path(d.location).parent for d in snap.distributions.values()
                              if d.location and d.location.endswith(".dist-info")))


def file_references(files: list[Path], root: Path) -> Iterator[tuple[Path, list[Reference]]]:
    """Each readable project file (up to :data:`MAX_FILE_BYTES`) with every reference it makes."""
    own = own_modules(files, root)
    for path in files:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            continue
        yield path, tree_references(tree, str(path), own)


def imported_modules(files: list[Path], root: Path) -> dict[str, tuple[Path, int]]:
    """Every module the project's files import unconditionally (``from a.b import c`` names ``a.b``
    and, should it be a submodule, ``a.b.c``), with the first file and line that does."""
    found: dict[str, tuple[Path, int]] = {}
    for path, refs in file_references(files, root):
        for ref in refs:
            if ref.guard is None:
                for module in (ref.query.module, f"{ref.query.module}.{ref.query.name}" if ref.query.name else None):
                    if module:
                        found.setdefault(module, (path, ref.line))
    return found


def script_breakages(files: list[Path], root: Path, snap: Snapshot, offline: bool,
                     index_urls: tuple[str, ...] | None = None) -> list[ScriptBreakage]:
    """Uses in ``files`` that the target's releases do not have, bisected when online."""
    from envdoctor.surface import bisect

    releases = Releases(snap, offline, index_urls)
    owners = top_level_owners(site_packages(snap)) if releases.live else {}
    found: list[ScriptBreakage] = []
    bisections = 0  # at most crosscheck.MAX_BISECTIONS that read releases per run
    for path, refs in file_references(files, root):
        seen = set()
        for ref in refs:
            top = ref.query.module.split(".")[0]
            dist = owners.get(top) or (canonical_name(top) if canonical_name(top) in snap.distributions else None)
            if ref.guard is not None or dist is None or dist not in snap.distributions or ref.query in seen:
                continue
            seen.add(ref.query)
            release = releases.get(dist)
            if release is None:
                continue
            result = answer_cached(release, ref.query)
            if result is None or result.status is not False:
                continue
            before = bisect.probe_reads()  # answers already cached are free: only reading ones count
            boundary = bisect.find_boundary(dist, ref.query, around=release.version, offline=offline,
                                            index_urls=releases.index_urls if not offline else (),
                                            probe_budget=bisect.MAX_PROBES if bisections < MAX_BISECTIONS else 0)
            bisections += bisect.probe_reads() > before
            found.append(ScriptBreakage(path, ref, dist, release.version, result, boundary))
    releases.save()
    return found
