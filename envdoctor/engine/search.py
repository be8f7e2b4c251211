"""Concrete fixes by search: every fix that moves a package names the version.

A rule says what must become true: "bitsandbytes>=0.45.1", "a vllm whose torch pin admits the
installed torch" (a pin with an empty specifier: any other release).  :func:`concretize` turns
each such pin into a version by searching the releases the configured indexes list (the
same indexes, cache and metadata reader as ``--env``; see :mod:`envdoctor.env.index`):

- candidates are the releases inside the rule's specifier, nearest to the installed version
  first (upgrades before downgrades at equal distance), final releases only, not yanked, with
  a file for the target (a compatible wheel, or an sdist);
- a candidate must admit the target's Python (Requires-Python), keep every declared
  requirement of what stays installed satisfied (whoever requires the package must accept
  the candidate), and have its own requirements met by what stays.  A package the file does not
  list but the moving package implies (its exact pins) moves along with it and is named.

The first candidate that passes is the fix (``pins = {name: "==V"}``, the rule's range kept in
``within``).  When none passes, the
fix says what was searched and why the nearest candidates failed.  ``--offline`` searches
nothing and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from envdoctor.rules.base import Context
from envdoctor.env import index
from envdoctor.env.implied import exact_version
from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements, is_kept, requested_extras
from envdoctor.env.snapshot import Distribution, Snapshot
from envdoctor.findings import Finding, Fix, brief_list, hint, pip_install_fix

MAX_CANDIDATES = 40  # releases whose metadata one search reads at most
ALONG_DEPTH = 2  # levels of exact pins checked for what moves along (vllm -> torch -> triton)
PLATFORM_SENSITIVE = ("torch", "torchvision", "torchaudio", "triton", "nvidia-*", "cuda-*")


@dataclass(frozen=True)
class Found:
    """A release that satisfies the search, and what moves with it."""

    name: str
    version: str
    along: tuple[str, ...] = ()  # "triton 3.3.0 -> 3.2.0"
    unchecked: bool = False  # an sdist without a metadata file: its requirements are known only once built


@dataclass(frozen=True)
class Searched:
    """What a search looked at when nothing passed."""

    name: str
    spec: str
    candidates: int
    checked: int
    indexes: tuple[str, ...]
    reasons: tuple[str, ...]

    def describe(self, snap: Snapshot) -> str:
        """``searched 12 of 12 vllm releases in >=0.9 on https://…/simple/ for Python 3.13 …``."""
        where = ", ".join(self.indexes) or "no index"
        within = (f" other than {self.spec.removeprefix('!=')}" if self.spec.startswith("!=")
                  else f" in {self.spec}" if self.spec else "")
        why = f"; nearest: {'; '.join(self.reasons[:3])}" if self.reasons else ""
        return (f"searched {self.checked} of {self.candidates} {self.name} releases{within} on {where} for "
                f"Python {snap.python_version} on {snap.system} {snap.machine}{why}")


class _Requirers:
    """Who requires what in the snapshot (markers evaluated for the target), and what the binaries
    need without declaring it: ``binary`` maps a distribution name to the numpy range its build
    needs (a build against NumPy 1 needs numpy<2; see :mod:`envdoctor.surface.numpy_abi`)."""

    def __init__(self, snap: Snapshot, binary: dict[str, str] | None = None) -> None:
        self.by_target: dict[str, list[tuple[Distribution, SpecifierSet, str]]] = {}
        extras = requested_extras(snap)
        for dist in snap.distributions.values():
            for req in active_requirements(dist, snap, extras.get(dist.name, ())):
                self.by_target.setdefault(canonical_name(req.name), []).append((dist, req.specifier, "requires"))
        for name, spec in (binary or {}).items():
            if name in snap.distributions:
                self.by_target.setdefault("numpy", []).append(
                    (snap.distributions[name], SpecifierSet(spec), "is built against NumPy 1, so it needs"))

    def of(self, name: str) -> list[tuple[Distribution, SpecifierSet, str]]:
        return self.by_target.get(name, [])


def _parse(spec: str) -> SpecifierSet | None:
    try:
        return SpecifierSet(spec)
    except InvalidSpecifier:
        return None


def _ordered(versions: Iterable[Version], current: Version | None, spec: SpecifierSet) -> list[Version]:
    """Versions in ``spec`` (finals unless the installed one is a pre-release), nearest first
    (newest first for a package that is not installed, as pip would choose)."""
    pre = current is not None and current.is_prerelease
    pool = sorted(v for v in versions if spec.contains(v, prereleases=pre) and v != current
                  and (pre or not v.is_prerelease))
    if current is None:
        return pool[::-1]
    above = [v for v in pool if v > current]
    below = [v for v in pool if v < current][::-1]
    ordered: list[Version] = []
    for i in range(max(len(above), len(below))):
        ordered += [side[i] for side in (above, below) if i < len(side)]
    return ordered


Lookup = Callable[[str, str], "index.Metadata | None"]


def _check(snap: Snapshot, name: str, version: str, meta: index.Metadata, requirers: _Requirers,
           moving: frozenset[str], keep: frozenset[str], lookup: Lookup,
           depth: int = ALONG_DEPTH) -> tuple[str | None, tuple[str, ...]]:
    """Why ``name==version`` does not fit (None when it does) and what moves along with it.

    A package that moves along to an exact version is checked the same way (to ``depth``
    levels): torchvision 0.22.0 brings torch 2.7.0, whose own requirements must fit too.
    """
    if meta.requires_python and (spec := _parse(meta.requires_python)) is not None \
            and not spec.contains(snap.python_version, prereleases=True):
        return f"{version} requires Python {spec}", ()
    parsed = Version(version)
    for other, spec, needs in requirers.of(name):
        if other.name not in moving and other.name != name and not spec.contains(parsed, prereleases=True):
            return f"{version}: {other.name} {other.version} {needs} {name}{spec}", ()
    along: list[str] = []
    deeper: list[str] = []  # what the packages that move along bring with them
    candidate = Distribution(name=name, version=version, requires=meta.requires, requires_python=meta.requires_python)
    requirements = list(active_requirements(candidate, snap, requested_extras(snap).get(name, ())))

    def ours(dep: str) -> bool:  # implied by what moves (and not the platform's): it moves along
        installed = snap.distributions.get(dep)
        return (installed is not None and any(link.startswith(f"{name}==") for link in installed.implied_by)
                and not is_kept(dep, keep))

    followers = moving | {canonical_name(r.name) for r in requirements if ours(canonical_name(r.name))}
    for req in requirements:
        dep = canonical_name(req.name)
        installed = snap.distributions.get(dep)
        if installed is None or dep in moving or not req.specifier:
            continue
        if req.specifier.contains(installed.version, prereleases=True):
            continue
        if ours(dep):
            exact = exact_version(req)
            follower = lookup(dep, exact) if exact and depth > 0 else None
            if exact and follower is not None:  # the others that move along do not hold it back
                why, further = _check(snap, dep, exact, follower, requirers, followers | {dep}, keep, lookup,
                                      depth - 1)
                if why is not None:
                    return f"{version} brings {dep} {why}", ()
                deeper += further
            along.append(f"{dep} {installed.version} → {req.specifier.__str__().removeprefix('==')}")
            continue
        return f"{version} requires {dep}{req.specifier}, but {dep} {installed.version} stays", ()
    return None, (*along, *deeper)


def search(snap: Snapshot, name: str, spec: str, moving: frozenset[str], keep: frozenset[str],
           config: index.IndexSearch, binary: dict[str, str] | None = None) -> Found | Searched:
    """The nearest release of ``name`` inside ``spec`` that fits the target and what stays
    (``binary``: what the target's binaries need of numpy, see :class:`_Requirers`)."""
    wanted = _parse(spec) or SpecifierSet()
    releases = config.releases(name)
    current_dist = snap.distributions.get(name)
    try:
        current = Version(current_dist.version) if current_dist else None
    except InvalidVersion:
        current = None
    ordered = _ordered(releases, current, wanted)
    requirers = _Requirers(snap, binary)
    reasons: list[str] = []
    checked = 0
    unbuilt: str | None = None  # the nearest sdist-only release, taken when no release with metadata fits
    for batch_start in range(0, min(len(ordered), MAX_CANDIDATES), index.WORKERS):
        batch = [str(v) for v in ordered[batch_start:min(batch_start + index.WORKERS, MAX_CANDIDATES)]]
        for version, outcome in zip(batch, config.metadata(name, batch)):
            checked += 1
            if outcome.metadata is None:
                reasons.append(f"{version}: {outcome.problem}")
                unbuilt = unbuilt or (version if outcome.sdist_only else None)
                continue
            why, along = _check(snap, name, version, outcome.metadata, requirers, moving | {name}, keep,
                                lambda n, v: config.metadata(n, [v])[0].metadata)
            if why is None:
                return Found(name, version, along)
            reasons.append(why)
    if unbuilt is not None:
        return Found(name, unbuilt, unchecked=True)
    return Searched(name, spec, len(ordered), checked, config.searched, tuple(reasons))


def ownership(ctx: Context, names: Iterable[str]) -> str:
    """``moves torch: your own venv, no platform detected`` when a fix moves a platform-sensitive package."""
    moved = [n for n in names if is_kept(n, PLATFORM_SENSITIVE)]
    if not moved or ctx.snapshot.platform:
        return ""
    where = "a lock for your own machine" if ctx.snapshot.source.startswith("file:") else "your own venv"
    return f" (moves {brief_list(moved, 3)}: {where}, no platform detected)"


def _move(snap: Snapshot, name: str, version: str) -> str:
    """``bitsandbytes 0.44.1 → 0.45.1`` (``name version`` when it is not installed)."""
    current = snap.version_of(name)
    return f"{name} {current} → {version}" if current else f"{name} {version}"


def _numpy1_builds(ctx: Context) -> dict[str, str]:
    """{name: "<2"} for the target's distributions built against NumPy 1, read once per check."""
    if "numpy1_builds" not in ctx.extras:
        from envdoctor.surface import numpy_abi

        ctx.extras["numpy1_builds"] = {name: "<2" for name in numpy_abi.numpy1_builds(ctx.snapshot, ctx.offline)}
    found: dict[str, str] = ctx.extras["numpy1_builds"]
    return found


def _concrete(fix: Fix, ctx: Context, config: index.IndexSearch | None) -> Fix:
    """``fix`` with each ranged pin replaced by the version the search found."""
    ranged = {n: s for n, s in fix.pins.items() if not s.startswith(("==", "==="))}
    if not ranged:
        suffix = ownership(ctx, fix.pins)
        return replace(fix, title=fix.title + suffix) if suffix else fix
    snap = ctx.snapshot
    if config is None:
        note = " (offline: releases not searched; run without --offline for the version)"
        if any(spec.startswith("!=") or not spec for spec in ranged.values()):  # "another release": no command
            return hint(fix.title + note)
        return replace(fix, title=fix.title + note)
    pins = dict(fix.pins)
    parts: list[str] = []
    moved: list[str] = []
    for name, spec in sorted(ranged.items()):
        result = search(snap, name, spec, frozenset(ranged), ctx.keep, config,
                        _numpy1_builds(ctx) if name == "numpy" else None)
        if isinstance(result, Searched) and result.candidates == 0 and not any(
                spec.startswith("!=") or not spec for spec in ranged.values()):
            # the index listed nothing (unreachable, or a mirror without the project): keep the range
            return replace(fix, title=f"{fix.title} (no version picked: {result.describe(snap)})")
        if isinstance(result, Searched):
            return hint(f"no {name} release fits: {result.describe(snap)}")
        pins[name] = f"=={result.version}"
        along = f", moving {brief_list(list(result.along), 2)} with it" if result.along else ""
        unchecked = (f" (an sdist without a metadata file: its requirements are read only when pip builds it, so "
                     f"they were not checked)") if result.unchecked else ""
        parts.append(_move(snap, name, result.version) + along + unchecked)
        moved += [name, *(a.split()[0] for a in result.along)]
    asked = {n: s for n, s in sorted(ranged.items()) if s and not s.startswith("!=")}
    within = ", ".join(asked.values())
    title = (f"{fix.title}: {'; '.join(parts)} (the nearest release{' in ' + within if within else ''} for "
             f"Python {snap.python_version} that fits the pins that stay)" + ownership(ctx, moved))
    return replace(pip_install_fix(title, pins, fix.applicability, fix.uninstall), env=fix.env, edits=fix.edits,
                   within=asked)


def concretize(findings: Sequence[Finding], ctx: Context, quiet: bool) -> list[Finding]:
    """``findings`` with every fix that moves a package naming its version (see the module docstring)."""
    if not any(fix.pins for f in findings for fix in f.fixes):
        return list(findings)
    config = None if ctx.offline else index.IndexSearch.for_snapshot(ctx.snapshot, quiet)
    try:
        return [replace(f, fixes=tuple(dict.fromkeys(_concrete(fix, ctx, config) for fix in f.fixes)))
                for f in findings]
    finally:
        if config is not None:
            config.close()
