"""ED112 numpy-capped-below-installed: a package's metadata caps NumPy below the installed one;
ED113 numpy1-build-under-numpy2: a compiled package's binaries were built against NumPy 1
(read by :mod:`envdoctor.surface.numpy_abi`).

Read from the package's own Requires-Dist (installed dist-info, the index for a lock file, else the
release snapshot for an offline lock), markers evaluated for the target, so no release table is
needed: trl 0.9.6 declares ``numpy<2.0.0``, 0.9.4 and 0.10.1 do not; LLaMA-Factory 0.8.3-0.9.3 do.
The fix names the nearest release whose metadata admits the installed NumPy, the target's Python and
what the other installed packages require of it (LLaMA-Factory 0.9.3 requires trl<=0.9.6).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.env import releases
from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements, admits_python, parse_version
from envdoctor.env.snapshot import Distribution, Snapshot
from envdoctor.env.torch_build import declared_or_recorded, declared_pin
from envdoctor.findings import Applicability, Finding, Fix, Severity, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.base import Context, curated_pairs, implements, platform_conflict

NUMPY = "numpy"


def required_of(snap: Snapshot, name: str) -> list[tuple[str, SpecifierSet]]:
    """What the other distributions with known metadata require of ``name`` (requirer, specifier)."""
    found = []
    for dist in snap.distributions.values():
        if dist.name == name or not dist.metadata_known:
            continue
        for req in active_requirements(dist, snap):
            if canonical_name(req.name) == name and req.specifier:
                found.append((dist.name, req.specifier))
    return found


def uncapped_releases(ctx: Context, dist: Distribution, numpy: Version) -> tuple[list[str], str, int]:
    """Releases of ``dist`` whose metadata admits ``numpy``, the target's Python and its requirers (oldest
    first), where the releases were read, and how many were searched."""
    snap = ctx.snapshot
    known, origin = releases.history(dist.name, NUMPY, snap, ctx.offline)
    requirers = required_of(snap, dist.name)
    fits = []
    for release in known:
        spec = declared_pin(Distribution(dist.name, release.version, release.requires), snap, NUMPY)
        if spec is not None and not SpecifierSet(spec).contains(numpy, prereleases=True):
            continue
        if admits_python(release.requires_python, snap.python_version) is False:
            continue
        if any(not s.contains(release.version, prereleases=True) for _, s in requirers):
            continue
        fits.append(release.version)
    return fits, origin, len(known)


def _fix(ctx: Context, dist: Distribution, numpy: Version) -> Fix:
    fits, origin, searched = uncapped_releases(ctx, dist, numpy)
    installed = Version(dist.version)
    newer = [v for v in fits if Version(v) > installed]
    older = [v for v in fits if Version(v) < installed]
    bound = "; ".join(f"{name} requires {dist.name}{spec}" for name, spec in required_of(ctx.snapshot, dist.name))
    within = f" within what the installed packages require ({bound})" if bound else ""
    if newer:
        return pip_install_fix(f"upgrade {dist.name} to {newer[0]}, the next release that admits numpy {numpy}"
                               f"{within} ({origin})", {dist.name: f"=={newer[0]}"}, Applicability.UNSAFE)
    if older:
        return pip_install_fix(f"install {dist.name} {older[-1]} (a downgrade: the nearest release that admits "
                               f"numpy {numpy}{within}; {origin})", {dist.name: f"=={older[-1]}"},
                               Applicability.UNSAFE)
    where = (f"none of the {searched} {dist.name} releases in {origin} admits numpy {numpy}{within}" if searched
             else f"{origin} does not record {dist.name}'s releases")
    return Fix(title=(f"{where}: keep NumPy 1 (numpy<2) for {dist.name} {dist.version}, or let pip pick a "
                      f"{dist.name} for numpy {numpy} (`pip install {dist.name} numpy=={numpy}`)"),
               applicability=Applicability.DISPLAY_ONLY)


def numpy2_of(snap: Snapshot) -> Version | None:
    """The target's NumPy when it is a NumPy 2 (installed, or pinned by a file), else None."""
    numpy = parse_version(snap.version_of(NUMPY))
    return numpy if numpy is not None and numpy.major >= 2 else None


@implements("ED112")
def numpy_capped_below_installed(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """No distribution's declared numpy requirement excludes the installed NumPy 2."""
    snap = ctx.snapshot
    numpy = numpy2_of(snap)
    if numpy is None:
        return
    for dist in sorted(snap.distributions.values(), key=lambda d: d.name):
        if dist.name == NUMPY:
            continue
        found = declared_or_recorded(dist, snap, NUMPY)
        if found is None or found[0] is None or SpecifierSet(found[0]).contains(numpy, prereleases=True):
            continue
        spec, origin = found
        shipped = platform_conflict(ctx, dist, ctx.snapshot.distributions[NUMPY])
        yield entry.finding(
            f"{dist.name} {dist.version} declares numpy{spec} ({origin}), but numpy {numpy} is installed: "
            f"pip reports the conflict (on Colab move {dist.name}, not numpy){shipped}",
            severity=Severity.WARNING if shipped else None,
            packages=(dist.name, NUMPY), covers=((dist.name, NUMPY),), fixes=(_fix(ctx, dist, numpy),))


@implements("ED113")
def numpy1_build_under_numpy2(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """No compiled distribution of a target with NumPy 2 was built against NumPy 1 (read from its binaries)."""
    numpy = numpy2_of(ctx.snapshot)
    if numpy is not None:
        yield from _numpy1_builds(ctx, entry, numpy)


def _numpy1_builds(ctx: Context, entry: RuleEntry, numpy: Version) -> Iterator[Finding]:
    """ED113's findings for a target with ``numpy`` 2."""
    from envdoctor.surface import numpy_abi

    snap = ctx.snapshot
    curated = {user for user, provider in curated_pairs(ctx) if provider == NUMPY}
    deadline = time.monotonic() + numpy_abi.SCAN_BUDGET_S
    for name, version in sorted(numpy_abi.numpy1_builds(snap, ctx.offline).items()):
        if name in curated:
            continue  # ED111 names the first release built for NumPy 2, with its sources
        first = None if ctx.offline else numpy_abi.first_numpy2_build(name, version, deadline)
        fixes = [pip_install_fix(f"keep NumPy 1: numpy<2 ({name} {version} needs it)", {NUMPY: "<2"},
                                 Applicability.UNSAFE)]
        if first is not None:
            fixes.insert(0, pip_install_fix(f"upgrade {name} to {first}+, its first release built for NumPy 2",
                                            {name: f">={first}"}, Applicability.UNSAFE))
        later = (f"; {first} is its first release built for NumPy 2" if first else
                 "; no later release built for NumPy 2 was found" + (" (offline)" if ctx.offline else ""))
        yield entry.finding(
            f"{name} {version} was built against NumPy 1 (its binaries import `numpy.core._multiarray_umath`, "
            f"never NumPy 2's `numpy._core`), but numpy {numpy} is {'pinned' if snap.source.startswith('file:') else 'installed'}: "
            f"its compiled code fails to load NumPy (\"A module that was compiled using NumPy 1.x cannot be run in "
            f"NumPy 2.x\"){later}",
            packages=(name, NUMPY), covers=((name, NUMPY),), fixes=tuple(fixes))
