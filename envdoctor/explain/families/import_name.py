"""Family: `cannot import name 'N' from 'M'` and `No module named 'M'`.

The provider is the distribution that owns module M (the target's RECORD files via
importlib.metadata, the knowledge base's name table, or the import name itself); the
importer is the package whose frame ran the import.  The API-surface engine says which
provider releases have N (or M), which gives a pin for the provider; without the engine
the boundary is unknown and the explanation says so.  Against a live target whose installed
provider *does* have the name, the failing process held an older copy in memory: in a
notebook that means restarting the kernel.  Modules that left the standard library
(distutils, imp, ...) are named with the Python release that removed them.
"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.version import Version

from envdoctor.env import stdlib
from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements, parse_version
from envdoctor.explain import api_surface
from envdoctor.explain.blame import Side, group_frames, provider_side, user_of
from envdoctor.explain.diagnosis import (
    HIGH,
    LOW,
    MEDIUM,
    Diagnosis,
    Evidence,
    explains,
    say,
    stale,
)
from envdoctor.explain.extractors import HitGroup
from envdoctor.explain.frames import site_path
from envdoctor.findings import Applicability, Fix, pip_install_fix
from envdoctor.knowledge.base import RuleEntry

MAX_SOURCE_BYTES = 4 << 20
MAX_CUT_NAMES = 6  # names of a cut-off `from m import ...` line looked up
MAX_LIKELY = 2  # widely used importers named for a removed name the log does not attribute


def _source_file(location: str | None, module: str) -> Path | None:
    """The installed source file of dotted ``module`` below ``location``."""
    if not location:
        return None
    base = Path(location, *module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def defined_on_disk(location: str | None, module: str, name: str) -> bool | None:
    """Whether the installed ``module`` mentions ``name`` as a definition or export (None: no source)."""
    path = _source_file(location, module)
    if path is None or path.stat().st_size > MAX_SOURCE_BYTES:
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    word = re.escape(name)
    return re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{word}\b|^\s*{word}\s*[:=]|\bimport\b[^\n]*\b{word}\b"
                     rf"|[\"']{word}[\"']", text, re.MULTILINE) is not None


def _module_present(location: str | None, module: str) -> bool | None:
    """Whether ``module`` (a dotted name) exists below ``location``; None when it cannot be told."""
    if not location or not Path(location).is_dir():
        return None
    base = Path(location, *module.split("."))
    return base.is_dir() or base.with_suffix(".py").is_file() or any(base.parent.glob(base.name + ".*.so"))


def _by(importer: str | None, ev: Evidence) -> str:
    if not importer:
        return ""
    version = ev.installed(importer)
    return f" (imported by {importer}{' ' + version if version else ''})"


def _restart(ev: Evidence) -> Fix:
    where = "restart the kernel (Runtime → Restart session), then re-run the cells" if ev.notebook else \
        "restart the process (or the notebook kernel) that printed the error"
    return say(where)


def _removed_stdlib(module: str, ev: Evidence, importer: str | None) -> Diagnosis | None:
    """A module that a Python release removed from the standard library, and the distribution on
    the index that ships it again (the backports publish ``standard-<name>`` or ``<name>-lts``)."""
    top = module.split(".")[0]
    removed = stdlib.removed_in(top)
    if removed is None:
        return None
    row = ev.kb.tables.get("stdlib_removed", {}).get(top, {})
    python = ev.ctx.snapshot.python_version if ev.ctx else None
    fixes: list[Fix] = [say(*filter(None, (f"run it on Python <{removed}", row.get("instead"))))]
    spellings = stdlib.backport_spellings(top)
    backport = row.get("distribution") or next(iter(ev.providers_of(top, importer, spellings)), None)
    if backport and backport != canonical_name(top):
        marker = f"; python_version >= '{removed}'"
        fixes.insert(0, pip_install_fix(f"install {backport}, which provides `{top}` again (`{backport}{marker}` "
                                        "in requirements)", {backport: ""}, Applicability.UNSAFE))
    if importer:
        fixes.append(say(f"or upgrade {importer} to a release that no longer imports `{top}`"))
    on = f" (the target runs Python {python})" if python else ""
    return Diagnosis(f"`{top}` was removed from the standard library in Python {removed} ({stdlib.source(top)}){on}; "
                     f"{importer + chr(39) + 's code' if importer else 'the code that imports it'} predates that",
                     HIGH if python else MEDIUM,
                     tuple(fixes), tuple(dict.fromkeys(d for d in (importer, backport) if d)))


def _gone(dist: str, module: str, ev: Evidence) -> api_surface.Boundary | None:
    """The boundary of top-level ``module`` in ``dist`` when its newest release no longer ships it."""
    found = api_surface.boundary(dist, module, offline=ev.offline)
    if found is None or not found.removed_in or any("<" not in r for r in found.present):
        return None  # unknown, or a range of releases with it reaches the newest
    return found


def _removed_module(group: HitGroup, ev: Evidence, dist: str, module: str, gone: api_surface.Boundary) -> Diagnosis:
    """A top-level module its distribution stopped shipping (setuptools 82.0.0 and ``pkg_resources``):
    the last release with it for the provider, the importer's first release without the import."""
    importer = user_of(group, ev, dist)
    fixes: list[Fix] = []
    if importer and (moved := _importer_fix(group, ev, importer, module, None)):
        fixes.append(moved)
    if (side := provider_side(dist, gone, None)) is not None:
        fixes.append(side.fix())
    return Diagnosis(f"`{module}` is not importable{_by(importer, ev)}: {gone.text}; an install without a pin gets "
                     f"a {dist} release without it", HIGH, tuple(fixes), tuple(dict.fromkeys(d for d in (importer, dist)
                                                                                        if d)))


def _importer_in_target(ev: Evidence, module: str, name: str | None, provider: str) -> tuple[str, str] | None:
    """(distribution, file) of the release a freeze lists whose code imports ``module.name`` at import time,
    for a log that does not show the importing frame; those that declare ``provider`` are read first."""
    if ev.ctx is None or not ev.ctx.snapshot.source.startswith("file:"):
        return None
    snap = ev.ctx.snapshot
    listed = [(n, snap.distributions[n]) for n in snap.listed() if n != provider]
    declaring = [(n, d.version) for n, d in listed
                 if provider in {canonical_name(r.name) for r in active_requirements(d, snap)}]
    others = [(n, d.version) for n, d in listed if (n, d.version) not in declaring]
    found = api_surface.importers(module, name, declaring + others, offline=ev.offline)
    return found[0] if found else None


def _importer_fix(group: HitGroup, ev: Evidence, importer: str, module: str, name: str | None,
                  importing_file: str | None = None) -> Fix | None:
    """Upgrade the importer to its first release whose importing file no longer imports the symbol
    (the file from the traceback, or ``importing_file`` read from its release, bisected over the
    importer's later releases; when no release of that file imports it, the traceback was cut above
    the file that does: any file counts)."""
    version = ev.installed(importer)
    files = [importing_file] if importing_file else \
        [site_path(f.path) for f in group_frames(group) if f.top and ev.distribution_of(f.top) == importer]
    if not files or files[-1] is None:
        return None
    symbol = f"`{module}{'.' + name if name else ''}`"
    fixed = api_surface.first_release_without(importer, version, files[-1], module, name, offline=ev.offline)
    if fixed is not None:
        return pip_install_fix(f"upgrade {importer} to {fixed}+, the first release whose {files[-1]} no longer "
                               f"imports {symbol}", {importer: f">={fixed}"}, Applicability.UNSAFE)
    fixed = api_surface.first_release_without(importer, version, files[-1], module, name, offline=ev.offline,
                                              anywhere=True)
    if fixed is None:
        return None
    return pip_install_fix(f"upgrade {importer} to {fixed}+, the first release none of whose files imports {symbol} "
                           f"at import time", {importer: f">={fixed}"}, Applicability.UNSAFE)


def _at_or_after(version: str, boundary: str) -> bool:
    """Whether ``version`` is ``boundary``'s release or later, its pre-releases and dev builds included
    (they already carry the change); an unreadable version counts as later."""
    have, edge = parse_version(version), parse_version(boundary)
    return have is None or edge is None or have.release >= edge.release


def failed_name(module: str, names: list[str], ev: Evidence) -> str | None:
    """Which of ``names`` an import from ``module`` failed on, when the traceback was cut before
    its error line: the one the target's release lacks, else (text only) the one its distribution
    added last (an older release lacks that one first)."""
    dist = ev.distribution_of(module)
    installed = ev.installed(dist)
    if installed:
        for name in names:
            if api_surface.status(dist, installed, module, name=name, site_packages=ev.location(dist),
                                  offline=ev.offline) is False:
                return name
        return None
    added: list[tuple[Version, str]] = []
    for name in names:
        found = api_surface.boundary(dist, module, name=name, offline=ev.offline)
        first = found.added_in or found.first_with if found is not None else None
        if first and (version := parse_version(first)) is not None:
            added.append((version, name))
    return max(added)[1] if added else None


@explains("ED601")
def import_name(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """No module named M / cannot import name N from M: provider, importer, boundary, pins."""
    module, name = group.groups["module"], group.groups.get("name")
    if "names" in group.groups:  # the traceback ends at `from M import a, b`: which one failed
        names = [item.split()[0] for item in group.groups["names"].split(",")  # `a as b` imports a
                 if item.split() and item.split()[0].isidentifier()][:MAX_CUT_NAMES]
        name = failed_name(module, names, ev)
        if name is None:
            dist = ev.distribution_of(module)
            return Diagnosis(f"the traceback ends at `from {module} import {', '.join(names)}` (the log was cut "
                             f"before its error line): one of these names is missing from the {dist} that ran", LOW,
                             (say("pass the whole output, the error line included (`cmd 2>&1 | tee run.log`)"),),
                             tuple(d for d in (user_of(group, ev, dist), dist) if d))
    if name is None and (removed := _removed_stdlib(module, ev, user_of(group, ev, module.split(".")[0]))):
        return removed
    dist = ev.distribution_of(module)
    shipped: list[str] = []
    if name is None:  # a module that is not there: which distribution ships it
        shipped = ev.providers_of(module, user_of(group, ev, dist))
        dist = shipped[0] if shipped else dist
    top_level = name is None and "." not in module
    if top_level and ev.ctx is None:
        if len(shipped) > 1:
            return Diagnosis(f"`{module}` is not importable{_by(user_of(group, ev, dist), ev)}: {' and '.join(shipped)} "
                             f"ship a `{module}` package on the index; install the one the code was written for",
                             MEDIUM, tuple(pip_install_fix(f"install {d} (it ships `{module}`)", {d: ""},
                                                           Applicability.UNSAFE) for d in shipped), tuple(shipped))
        if (gone := _gone(dist, module, ev)) is not None:
            return _removed_module(group, ev, dist, module, gone)
        return Diagnosis(f"`{module}` is not importable: {dist} is missing or is a release without it"
                         f"{_by(user_of(group, ev, dist), ev)}", MEDIUM,
                         (pip_install_fix(f"install {dist} (the distribution that provides `{module}`)", {dist: ""},
                                          Applicability.UNSAFE),), (dist,))
    importer, importing_file = user_of(group, ev, dist), None
    if importer is None and (seen := _importer_in_target(ev, module, name, dist)):
        importer, importing_file = seen
    by = _by(importer, ev)
    what = f"`{module}` has no `{name}`" if name else f"`{module}` is not importable"
    installed = ev.installed(dist)
    elsewhere = ""
    if ev.ctx is not None and installed is None:
        if top_level:
            if (gone := _gone(dist, module, ev)) is not None:  # installing the newest would not bring it back
                return _removed_module(group, ev, dist, module, gone)
            moved = _importer_fix(group, ev, importer, module, name, importing_file) if importer else None
            return Diagnosis(f"`{module}` comes from {dist}, which is not installed in the target{by}", HIGH,
                             (pip_install_fix(f"install {dist}", {dist: ""}, Applicability.UNSAFE),
                              *((moved,) if moved else ())), tuple(dict.fromkeys(d for d in (importer, dist) if d)))
        # the failing process had `{module}`'s package: the log is from another environment than the target
        elsewhere = f" (the target does not list {dist}: the log comes from another environment)"
    if ev.ctx is not None and installed:
        location = ev.location(dist)
        has = api_surface.status(dist, installed, module, name=name, site_packages=location,
                                 offline=ev.offline) if name else None
        if has is None:
            has = defined_on_disk(location, module, name) if name else _module_present(location, module)
        if has is None and top_level:  # a lock or freeze: the release's file list says
            has = api_surface.status(dist, installed, module, offline=ev.offline)
        if has is None and top_level:
            has = True  # a top-level package of an installed distribution: there unless shown otherwise
        if has:
            if ev.notebook or ev.ctx.snapshot.source == "live":
                return Diagnosis(f"{what} in the failing process, but the installed {dist} {installed} has it: the "
                               "process had an older copy imported before the package changed (a stale module)",
                               HIGH, (_restart(ev),), (dist,))
            return Diagnosis(stale(f"{dist} {installed} in the target has `{name or module}`"), LOW, (), (dist,))
    boundary = api_surface.boundary(dist, module, around=installed, offline=ev.offline) if top_level else \
        api_surface.boundary(dist, module if name else module.rsplit(".", 1)[0],
                             name=name or module.rsplit(".", 1)[-1], around=installed, offline=ev.offline)
    culprits = tuple(dict.fromkeys(d for d in (importer, dist) if d))
    sides: list[Side] = []
    if boundary is not None and (side := provider_side(dist, boundary, installed)):
        sides.append(side)
    fixes = [side.fix() for side in sides]
    if importer and (moved := _importer_fix(group, ev, importer, module, name, importing_file)):
        fixes.insert(0, moved)
    elif importer:
        fixes.append(say(f"or move {importer} to a release written for {dist}{' ' + installed if installed else ''}"
                         f" (one that does not import `{name or module}`)"))
    likely = ""
    if importer is None and name and boundary is not None and boundary.removed_in and not ev.offline \
            and (installed is None or _at_or_after(installed, boundary.removed_in)):
        found = api_surface.likely_importers(module, name, dist, list(ev.kb.tables["likely_importers"]["packages"]),
                                             offline=ev.offline)[:MAX_LIKELY]
        for candidate, fixed in reversed(found):
            fixes.insert(0, pip_install_fix(f"upgrade {candidate} to {fixed}+ if an older one is installed: its releases "
                                            f"before {fixed} import `{module}.{name}` at import time",
                                            {candidate: f">={fixed}"}, Applicability.UNSAFE))
        culprits = tuple(dict.fromkeys((*culprits, *(candidate for candidate, _ in found))))
        likely = "".join(f"; {candidate} releases before {fixed} import it (the log does not show the importer)"
                         for candidate, fixed in found)
    if boundary is None:
        known = (f"{dist} {installed} lacks it" if installed else f"the {dist} release that ran lacks it")
        message = (f"{what}: {known}; the importing code{by} expects another {dist} release "
                   f"(release boundary unknown: {'the API-surface engine is not installed' if not api_surface.available() else 'not found on the index'})"
                   f"{elsewhere}")
        if elsewhere:
            fixes.append(pip_install_fix(f"install {dist} in the target", {dist: ""}, Applicability.UNSAFE))
        if not fixes:
            fixes.append(say(f"install the {dist} release the importer supports", "`envdoctor check` shows which pins conflict"))
        return Diagnosis(message, MEDIUM, tuple(fixes), culprits)
    confirmed = "" if installed is None else (f"; the target's {dist} {installed} lacks it, confirmed")
    return Diagnosis(f"{what}{by}: {boundary.text}{confirmed}{likely}{elsewhere}", HIGH if installed else MEDIUM,
                     tuple(fixes), culprits)
