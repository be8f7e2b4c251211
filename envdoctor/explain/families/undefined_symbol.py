"""Family: `undefined symbol` — a compiled extension built against another torch (or library).

The ``.so`` path names the extension's owning distribution; the symbol, demangled
(envdoctor.explain.demangle), names the library it expects (``c10::``, ``at::``,
``torch::`` are torch's); the extension's metadata (or wheel tag, or the knowledge base's
table) names the torch it was built for, which the target's torch is compared with.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.engine.core import implementation
from envdoctor.env import pipconfig, releases
from envdoctor.env.native_deps import LibraryRequirement, library_requirement
from envdoctor.env.requirements import parse_version
from envdoctor.env.torch_build import built_for_torch, declared_or_recorded
from envdoctor.explain.demangle import demangle, namespace
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
from envdoctor.explain.frames import site_module
from envdoctor.findings import Applicability, Fix, pip_install_fix
from envdoctor.knowledge.base import KnowledgeBase, RuleEntry
from envdoctor.surface.eras import BuildEras, era_of

TORCH_NAMESPACES = ("c10", "at", "torch", "caffe2")
MAX_SYMBOL_LINE = 8192
_SO_PATH = re.compile(r"(?P<path>[^\s'\"`:(]{1,1000}\.(?:so|pyd|dylib))\b")
_LIBRARY = re.compile(r"\bversion [`'\"]?(?P<library>lib[\w+.-]{1,200}?\.so)")
_SYMBOL = re.compile(r"undefined\s{1,20}symbol:? (?P<symbol>\S{1,4096})|Symbol not found: _(?P<macho>\S{1,4096})")
_DLL = re.compile(r"DLL load failed while importing (?P<module>\w{1,200})")
_WRAPPED = re.compile(r"^\s{0,20}symbol: _Z")


def _extension_module(text: str, kb: KnowledgeBase) -> tuple[str | None, str | None]:
    """(import name of the compiled module, its .so path) named in an `undefined symbol` line
    (Windows names only the module: ``DLL load failed while importing exllamav2_ext``)."""
    if m := _DLL.search(text):
        return m.group("module"), None
    if m := _SO_PATH.search(text):
        path = m.group("path")
        module = site_module(path)
        if module is None:
            parent = PurePath(path.replace("\\", "/")).parent.name  # a package folder, else the file's own name
            module = parent if parent.isidentifier() else PurePath(path).name.split(".")[0]
        return module, path
    for name in (*kb.tables["torch_extensions"]["packages"], "flash_attn"):
        if re.search(rf"\b{re.escape(name.replace('-', '_'))}\b", text, re.IGNORECASE):  # xFormers
            return name.replace("-", "_"), None
    return None, None


def _stated_build(group: HitGroup, ev: Evidence, module: str | None) -> Diagnosis:
    """An extension's own report of the torch it was built for and the one it found (xformers:
    "xFormers was built for: PyTorch 2.4.1+cu124 with CUDA 1204 (you have 2.5.0+cu124)"): both
    sides named by the log; with a target, the target's check (ED120) gives the release pins."""
    built, have = group.groups["built"], group.groups.get("have", "")
    dist = ev.distribution_of(module) if module else None
    what = dist or "a compiled extension"
    torch_kept = f"torch=={built}" if "+" not in built else f"torch=={built.split('+')[0]} (the {built} build)"
    fixes = (pip_install_fix(f"or move torch back to the one {what} was built for: {torch_kept}",
                             {"torch": f"=={built.split('+')[0]}"}, Applicability.UNSAFE),)
    if dist is None:
        return Diagnosis(f"a compiled extension was built for torch {built}, but torch {have} is installed", MEDIUM,
                         (say(f"install the extension's release built for torch {have}"), *fixes), ("torch",))
    recorded = releases.shipped()
    matching = [r.version for r in recorded.releases(dist, "torch") if _admits(r.requires, releases.public(have))]
    side = (pip_install_fix(f"install {dist} {matching[-1]}, the newest release whose metadata pins the installed "
                            f"torch {releases.public(have)} ({recorded.describe()})", {dist: f"=={matching[-1]}"},
                            Applicability.UNSAFE) if matching else
            say(f"install the {dist} release built for torch {have} (its wheel's metadata pins "
                f"torch=={releases.public(have)}; `envdoctor check --env` against your freeze names it)"))
    return Diagnosis(f"{dist} was built for torch {built}, but torch {have} is installed: its C++/CUDA "
                     f"extensions do not load", MEDIUM, (side, *fixes), (dist, "torch"))


def _admits(requires: tuple[str, ...], torch: str) -> bool:
    """Whether one of a release's torch requirements pins exactly ``torch`` (markers aside)."""
    version = parse_version(torch)
    for line in releases.lines_on(requires, "torch"):
        spec = Requirement(line).specifier
        if version is not None and any(s.operator == "==" for s in spec) and spec.contains(version, prereleases=True):
            return True
    return False


def _compiled_owner(module: str, path: str | None, ev: Evidence) -> str:
    """The distribution of a compiled module: a top-level ``.so`` named after a listed distribution
    (``exllamav2_ext.so`` beside ``exllamav2``) is that distribution's; else the module's owner."""
    found = ev.distribution_of(module)
    top_level = "." not in module if path is None else PurePath(path.replace("\\", "/")).name.split(".")[0] == module
    if ev.ctx is None or not top_level or found in ev.ctx.snapshot.distributions:
        return found
    listed = [name for name in ev.ctx.snapshot.listed() if module.lower().startswith(name.replace("-", "_") + "_")]
    return max(listed, key=len) if listed else found


def _library_mismatch(lib: LibraryRequirement, symbol: str, what: str, ev: Evidence) -> Diagnosis:
    """The symbol is a library's that ``lib.declarer`` requires: the installed (or loaded) copy is another release."""
    snap = ev.ctx.snapshot if ev.ctx else None
    declarer = f"{lib.declarer} {ev.installed(lib.declarer) or ''}".strip()
    needs = f"{what} needs `{symbol}` from {lib.name}'s library, and {declarer} declares {lib.name}{lib.spec}"
    have = snap.distributions.get(lib.name) if snap else None
    version = parse_version(have.version) if have else None
    loose = say(f"then make sure no other copy of the library comes first: `python -c \"import {lib.declarer}\"` "
                f"with LD_LIBRARY_PATH unset; a system or conda copy on that path shadows {lib.name}'s")
    if have and not have.implied_by and version is not None and lib.spec \
            and not SpecifierSet(lib.spec).contains(version, prereleases=True):
        return Diagnosis(f"{needs}, but {lib.name} {have.version} is installed: that release lacks the symbol",
                         HIGH, (pip_install_fix(f"install {lib.name}{lib.spec}, the release {declarer} declares",
                                                {lib.name: lib.spec}, Applicability.UNSAFE),),
                         (lib.name, lib.declarer))
    if not lib.spec:
        newer = (pip_install_fix(f"upgrade {lib.name} past {have.version}: {declarer} requires it without a version, "
                                 f"and a newer release keeps the symbols an older one has",
                                 {lib.name: f">{have.version}"}, Applicability.UNSAFE) if have and version else
                 say(f"upgrade {lib.name} (`pip install -U {lib.name}`): {declarer} requires it without a version, "
                     f"and a newer release keeps the symbols an older one has"))
        return Diagnosis(f"{needs} (any release): the copy loaded lacks the symbol, so it is an older release or "
                         f"another copy of the library", MEDIUM, (newer, loose), (lib.name, lib.declarer))
    return Diagnosis(f"{needs}: the copy that was loaded lacks the symbol, so another release of {lib.name} (or a "
                     f"copy of its library outside it) was found first", MEDIUM,
                     (pip_install_fix(f"install {lib.name}{lib.spec}, the release {declarer} declares",
                                      {lib.name: lib.spec}, Applicability.UNSAFE), loose),
                     (lib.name, lib.declarer))


def _era_mismatch(dist: str, version: str, torch: str | None, against: str,
                  uninstall: tuple[Fix, ...]) -> Diagnosis | None:
    """An extension whose metadata does not say which torch it was built for, dated on the index
    (envdoctor.surface.eras): built in the torch minor line that was newest when it was uploaded.
    None when the index has no upload times, or the installed torch is that line (another cause)."""
    built = parse_version(version)
    found = BuildEras.read("torch", dist, pipconfig.read().urls) if built is not None else None
    era = found.built_for(built) if found and built else None
    if found is None or built is None or era is None:
        return None
    have = parse_version(torch.split("+")[0]) if torch else None
    torch_era = era_of(found.eras, have) if have else None
    if torch_era == era:
        return None
    uploaded = found.uploads[Version(built.public)]
    dated = (f"{dist} {version} was uploaded on {uploaded:%Y-%m-%d}, while torch {era.describe()} was the newest "
             f"line, and was built against it (its metadata names no torch release; the dates are the index's)")
    torch_first = torch_era is None or torch_era.start < era.start  # moving torch is an upgrade
    lead = "move" if torch_first else f"or keep {dist} and move"
    move_torch = pip_install_fix(f"{lead} torch to the {era.minor} line it was built in: torch{era.spec}",
                                 {"torch": era.spec}, Applicability.UNSAFE)
    if torch_era is None:
        return Diagnosis(f"{dist} {version}'s compiled module was built against another {against}: {dated}", MEDIUM,
                         (move_torch, *uninstall), (dist, "torch"))
    within = found.released_within(torch_era)
    spec = f">={within[0]},<={within[-1]}" if within else ""
    side = (pip_install_fix(f"{'or keep torch and move' if torch_first else 'move'} {dist} to "
                            f"the releases uploaded while torch {torch_era.describe()} was newest: {dist}{spec}",
                            {dist: spec}, Applicability.UNSAFE),) if within else ()
    fixes = (move_torch, *side) if torch_first else (*side, move_torch)
    return Diagnosis(f"{dist} {version}'s compiled module was built against another {against} than torch {torch}: "
                     f"{dated}", MEDIUM, (*fixes, *uninstall), (dist, "torch"))


@explains("ED120")
def undefined_symbol(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """`undefined symbol` in a compiled module: which distribution owns it and the torch it was built for."""
    text = group.occurrences[0].text
    if _WRAPPED.match(text) and group.context:  # `...so: undefined` / `symbol: _ZN...`: one line, wrapped
        text = f"{group.context[-1]} {text.strip()}"
    module, path = _extension_module(text, ev.kb)
    if module is None and "built" in group.groups:  # the extension's name is on the line above
        module, path = _extension_module(" ".join(group.context[-2:]), ev.kb)
    dist = _compiled_owner(module, path, ev) if module else None
    if "built" in group.groups and (ev.ctx is None or dist is None or ev.installed(dist) is None):
        return _stated_build(group, ev, module)
    symbol = (m.group("symbol") or m.group("macho")) if (m := _SYMBOL.search(text)) else ""  # Mach-O: `_` off
    readable = demangle(symbol) if symbol else ""
    owner = namespace(symbol)
    shown = readable if len(readable) <= 120 else readable[:117] + "…"
    against = (f"torch (the symbol `{shown}` is from {owner}::, torch's c10/ATen C++ libraries)"
               if owner in TORCH_NAMESPACES else f"torch (it lacks `{shown}`)" if shown else "torch")
    what = f"{dist}'s compiled module{f' ({path})' if path else ''}" if dist else "a compiled extension"
    uninstall = (
        (
            pip_install_fix(
                f"uninstall {dist} if this run does not import it",
                {},
                Applicability.UNSAFE,
                uninstall=(dist,),
            ),
        )
        if dist
        else ()
    )
    if ev.ctx is None and dist == "torch" and owner is None and shown:
        return Diagnosis(
            f"{what} needs `{shown}`, a symbol of a library torch loads beside it (an nvidia-* wheel it requires, or "
            f"a copy of that library first on LD_LIBRARY_PATH): the copy loaded is another release than torch "
            f"declares", MEDIUM,
            (say("install the library releases your torch declares (`envdoctor explain --env FREEZE` or a run in "
                 "the environment names them), and unset LD_LIBRARY_PATH entries that hold another copy"),),
            ("torch",))
    if ev.ctx is None:
        return Diagnosis(
            f"{what} was built against another {against} than the one installed: install the "
            f"{dist or 'extension'} build for your torch, or uninstall it",
            MEDIUM,
            (say("install the build made for the installed torch (same torch major.minor)"), *uninstall),
            tuple(d for d in (dist, "torch" if owner in TORCH_NAMESPACES else None) if d),
        )
    library = m.group("library") if (m := _LIBRARY.search(text)) else None
    if owner not in TORCH_NAMESPACES and (found_lib := library_requirement(
            symbol, library, [dist] if dist in ev.ctx.snapshot.distributions else ev.ctx.snapshot.listed(), ev.ctx.snapshot, skip=frozenset({"torch"}))):
        return _library_mismatch(found_lib, symbol, what, ev)
    if dist is None:
        return Diagnosis(f"{what} was built against another {against}; the log does not name which one", MEDIUM)
    found = [f for f in implementation(entry)(ev.ctx, entry) if dist in f.packages]
    if found:
        return Diagnosis(found[0].message, HIGH, found[0].fixes, found[0].packages)
    snap = ev.ctx.snapshot
    version, torch = ev.installed(dist), ev.installed("torch")
    if version is None and ev.unlisted(dist):
        return Diagnosis(f"{what} was built against another {against} than the one installed (the file does not "
                         f"list {dist}; the log's run had it)", MEDIUM,
                         (say("install the build made for the installed torch (same torch major.minor)"), *uninstall),
                         tuple(d for d in (dist, "torch" if owner in TORCH_NAMESPACES else None) if d))
    if version is None:
        return Diagnosis(
            stale(f"{dist} is not installed in the target (uninstalling it is the usual fix)"), LOW, (), (dist,)
        )
    spec, origin = built_for_torch(snap.distributions[dist], snap)
    torch_version = parse_version(torch.split("+")[0]) if torch else None
    if spec and torch_version and SpecifierSet(spec).contains(torch_version, prereleases=True):
        return Diagnosis(
            stale(f"{dist} {version} is built for torch{spec} ({origin}) and torch {torch} is installed"),
            LOW,
            (),
            (dist, "torch"),
        )
    declared = declared_or_recorded(snap.distributions[dist], snap, "torch")
    if declared and declared[0] and torch_version and not SpecifierSet(declared[0]).contains(
            torch_version, prereleases=True):
        return Diagnosis(
            f"{dist} {version}'s compiled module was built against another {against}: {dist} {version} declares "
            f"torch{declared[0]} ({declared[1]}), but torch {torch} is installed",
            HIGH,
            (pip_install_fix(f"move torch into {dist} {version}'s declared range torch{declared[0]}",
                             {"torch": declared[0]}, Applicability.UNSAFE), *uninstall),
            (dist, "torch"),
        )
    if torch_version is not None and torch_version.is_prerelease:
        final = torch_version.base_version  # 2.4.0a0+07cecf4168.nv24.05 -> 2.4.0
        return Diagnosis(
            f"{dist} {version}'s compiled module was built against another {against}: torch {torch} is a "
            f"pre-release build (a container's or a nightly), and the wheels of extensions are built against "
            f"torch's final releases, whose C++ symbols differ",
            MEDIUM,
            (pip_install_fix(f"install the final release of this torch line, torch=={final}, which {dist}'s "
                             f"wheels are built for", {"torch": f"=={final}"}, Applicability.UNSAFE),
             say(f"or keep this torch and build {dist} against it (`pip install --no-build-isolation "
                 f"--no-binary {dist} {dist}`)"), *uninstall),
            (dist, "torch"),
        )
    if not ev.offline and (era := _era_mismatch(dist, version, torch, against, uninstall)) is not None:
        return era
    return Diagnosis(
        f"{dist} {version}'s compiled module was built against another {against} than torch "
        f"{torch or '(not installed)'}: importing it fails with `undefined symbol`",
        MEDIUM,
        (
            say(
                f"reinstall {dist} built for torch {torch} (`pip install --force-reinstall "
                f"--no-cache-dir {dist}` builds or fetches one); keep torch"
            ),
            *uninstall,
        ),
        (dist, "torch"),
    )
