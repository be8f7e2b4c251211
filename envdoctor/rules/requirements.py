"""Declared requirements: what `pip check` does, plus Python, markers and extras.

ED001 unmet-requirement, ED002 unsupported-python, ED003 shadowed-distribution,
ED004 incomplete-lock, ED005 pin-not-on-index, ED006 unsatisfiable-requirements.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import (
    active_requirements,
    admits_python,
    is_kept,
    parse_version,
    requested_extras,
)
from envdoctor.env.snapshot import Distribution
from envdoctor.findings import (
    Applicability,
    Finding,
    Fix,
    Severity,
    brief_list,
    hint,
    pip_install_fix,
)
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.base import Context, implements, pin_locations, platform_conflict


def owner(ctx: Context) -> str:
    """Why a kept package may not move: the detected platform's, or ``--keep``."""
    platform = ctx.snapshot.platform
    return f"the platform owns it: {platform}" if platform else "kept with --keep"


def mismatch_fixes(ctx: Context, requirer: Distribution, req: Requirement, installed: str) -> tuple[Fix, ...]:
    """Both ways out of an unmet requirement, as pins the fix search (envdoctor.fix.search) makes
    concrete: move the required package into the requirer's range, or move the requirer to a
    release that accepts what is installed.  A kept side does not move, and the other fix says so."""
    name = canonical_name(req.name)
    fixes: list[Fix] = []
    if not is_kept(name, ctx.keep):
        fixes.append(pip_install_fix(f"move {name} into {requirer.name}'s range {req.specifier}",
                                     {name: str(req.specifier)}, Applicability.UNSAFE))
    # an implied requirer moves with the pin that implies it: move that pin (the search checks the chain)
    root, _, root_version = (requirer.implied_by[-1] if requirer.implied_by else "").partition("==")
    mover, mover_version = (root, root_version) if root else (requirer.name, requirer.version)
    if not is_kept(mover, ctx.keep):
        stays = f" ({name} {installed} stays: {owner(ctx)})" if is_kept(name, ctx.keep) else ""
        accepts = f"whose {requirer.name} accepts" if root else "that accepts"
        fixes.append(pip_install_fix(f"move {mover} to a release {accepts} {name} {installed}{stays}",
                                     {mover: f"!={mover_version}"}, Applicability.UNSAFE))
    if not fixes:
        fixes.append(Fix(title=(f"leave both: {requirer.name} and {name} are kept ({owner(ctx)}); "
                                f"uninstall {requirer.name} if the run does not use it"),
                         applicability=Applicability.DISPLAY_ONLY))
    return tuple(fixes)


@implements("ED001")
def unmet_requirement(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Every installed requirer's requirement is installed at a matching version."""
    snap = ctx.snapshot
    extras = requested_extras(snap)
    for dist in sorted(snap.distributions.values(), key=lambda d: d.name):
        for req in active_requirements(dist, snap, extras.get(dist.name, ())):
            name = canonical_name(req.name)
            target = snap.distributions.get(name)
            if target is None:
                if snap.source.startswith("file:"):
                    continue  # a partial lock: ED004 reports it
                yield entry.finding(
                    f"{dist.name} {dist.version} requires {req}, which is not installed",
                    packages=(dist.name, name),
                    covers=((dist.name, name),),
                    fixes=(
                        pip_install_fix(
                            f"install {name}{req.specifier}", {name: str(req.specifier)}, Applicability.SAFE
                        ),
                    ),
                )
                continue
            version = parse_version(target.version)
            if not req.specifier or version is None or req.specifier.contains(version, prereleases=True):
                continue
            shipped = platform_conflict(ctx, dist, target)
            yield entry.finding(
                f"{dist.name} {dist.version} requires {name}{req.specifier}, but {name} {target.version} "
                f"is {'pinned' if snap.source.startswith('file:') else 'installed'}{shipped}",
                severity=Severity.WARNING if shipped else None,
                packages=(dist.name, name),
                covers=((dist.name, name),),
                locations=pin_locations(snap, (name,)),
                fixes=mismatch_fixes(ctx, dist, req, target.version),
            )


@implements("ED002")
def unsupported_python(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Every distribution's Requires-Python admits the target Python."""
    snap = ctx.snapshot
    for dist in sorted(snap.distributions.values(), key=lambda d: d.name):
        if admits_python(dist.requires_python, snap.python_version) is False:
            spec = SpecifierSet(dist.requires_python or "")
            shipped = platform_conflict(ctx, dist)
            yield entry.finding(
                f"{dist.name} {dist.version} requires Python {spec}, but the target runs Python "
                f"{snap.python_version}{shipped}",
                severity=Severity.WARNING if shipped else None,
                packages=(dist.name,),
                locations=pin_locations(snap, (dist.name,)),
                fixes=(
                    pip_install_fix(
                        f"move {dist.name} to a release that supports Python {snap.python_version}",
                        {dist.name: f"!={dist.version}"},
                        Applicability.UNSAFE,
                    ),
                ),
            )


@implements("ED003")
def shadowed_distribution(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """One distribution installed twice on sys.path: the first wins, tools may read the other."""
    for dist in sorted(ctx.snapshot.distributions.values(), key=lambda d: d.name):
        # A second copy of the same version (a source checkout's *.egg-info beside an editable
        # install) imports the same code: only a different version misleads.
        different = sorted(set(dist.shadowed) - {dist.version})
        if different:
            others = ", ".join(different)
            yield entry.finding(
                f"{dist.name} is installed more than once: {dist.version} is imported "
                f"(from {dist.location}), {others} shadowed",
                packages=(dist.name,),
                fixes=(
                    Fix(
                        title=f"uninstall {dist.name} until none is left, then install one version",
                        applicability=Applicability.UNSAFE,
                        commands=(
                            ("{python}", "-m", "pip", "uninstall", "-y", dist.name),
                            ("{python}", "-m", "pip", "uninstall", "-y", dist.name),
                            ("{python}", "-m", "pip", "install", f"{dist.name}=={dist.version}"),
                        ),
                    ),
                ),
            )


@implements("ED004")
def incomplete_lock(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A lock file pins a package whose declared requirement is not pinned in it."""
    snap = ctx.snapshot
    extras = requested_extras(snap)
    listed = set(snap.listed())  # implied: not pinned
    for dist in sorted(snap.distributions.values(), key=lambda d: d.name):
        if dist.implied_by:
            continue  # what an implied package needs is its chain's root's to pin
        unpinned = sorted(
            {canonical_name(req.name) for req in active_requirements(dist, snap, extras.get(dist.name, ()))}
            - listed
        )
        unpinned = [name for name in unpinned if not is_kept(name, ctx.provided)]
        if not unpinned:
            continue
        missing = [name for name in unpinned if name not in snap.distributions]
        implied = [f"{name} {snap.distributions[name].version}" for name in unpinned if name in snap.distributions]
        also = f" (its metadata fixes {brief_list(implied)}, which envdoctor inferred)" if implied else ""
        yield entry.finding(
            f"{dist.name} {dist.version} requires {brief_list(unpinned)}, which the lock does not pin{also}",
            packages=(dist.name, *missing),
            locations=pin_locations(snap, (dist.name,)),
            fixes=(hint("re-lock with `envdoctor lock` so every dependency is pinned"),),
        )


@implements("ED005")
def pin_not_on_index(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A pinned version that none of the configured indexes lists (found by envdoctor.env.index)."""
    snap = ctx.snapshot
    for name, version in sorted(snap.not_on_index.items()):
        if name in snap.distributions and snap.distributions[name].implied_by:
            continue  # not pinned in the file: the notes say that its chain's metadata names a missing build
        yield entry.finding(
            f"{name}=={version} is pinned, but no configured package index lists that version: "
            '`pip install` will stop with "No matching distribution found"',
            packages=(name,),
            locations=pin_locations(snap, (name,)),
            fixes=(
                Fix(
                    title=(
                        f"correct the pin (`pip index versions {name}` lists what exists), or add the "
                        "index that hosts it with --extra-index-url"
                    ),
                    applicability=Applicability.DISPLAY_ONLY,
                ),
            ),
        )


@implements("ED006")
def unsatisfiable_requirements(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Pins whose requirements on a distribution the file does not list but several pins share
    admit no release of it, alone or together (pip's ResolutionImpossible); online only."""
    snap = ctx.snapshot
    if ctx.offline or not snap.source.startswith("file:"):
        return
    extras = requested_extras(snap)
    requirers: dict[str, list[tuple[Distribution, Requirement]]] = {}
    for dist in sorted(snap.distributions.values(), key=lambda d: d.name):
        for req in active_requirements(dist, snap, extras.get(dist.name, ())):
            name = canonical_name(req.name)
            if name not in snap.distributions and req.specifier and not req.specifier.prereleases:
                requirers.setdefault(name, []).append((dist, req))  # a pre-release bound lets pip take pre-releases
    for name, reqs in sorted(requirers.items()):
        versions = _released(ctx, name) if len(reqs) > 1 else []  # a shared dependency: one page read each
        if not versions:
            continue

        def admits(spec: SpecifierSet) -> bool:
            return any(spec.contains(v, prereleases=True) for v in versions)

        alone = [(d, r) for d, r in reqs if not admits(r.specifier)]
        together = SpecifierSet()
        for _, req in reqs:
            together &= req.specifier
        if alone:
            dist, req = alone[0]
            yield entry.finding(
                f"{dist.name} {dist.version} requires {name}{req.specifier}: no {name} release on the index is in "
                f"that range ({len(versions)} listed, newest {versions[-1]}), so `pip install` stops with "
                "ResolutionImpossible",
                packages=(dist.name, name), locations=pin_locations(snap, (dist.name,)), covers=((dist.name, name),),
                fixes=() if is_kept(dist.name, ctx.keep) else (pip_install_fix(
                    f"move {dist.name} to a release whose requirement on {name} the index can meet",
                    {dist.name: f"!={dist.version}"}, Applicability.UNSAFE),))
        elif not admits(together):
            pair = next((a, b) for i, a in enumerate(reqs) for b in reqs[i + 1:]
                        if not admits(a[1].specifier & b[1].specifier))
            yield _conflict(ctx, entry, name, pair, len(versions))


def _conflict(ctx: Context, entry: RuleEntry, name: str,
              pair: tuple[tuple[Distribution, Requirement], tuple[Distribution, Requirement]], listed: int) -> Finding:
    """Two pins whose ranges on ``name`` share no listed release; each fix keeps one range and moves the other pin."""
    (first, first_req), (second, second_req) = pair
    fixes = tuple(
        pip_install_fix(f"keep {keep.name}'s {name}{keep_req.specifier} and move {other.name} to a release "
                        f"that accepts it", {name: str(keep_req.specifier), other.name: f"!={other.version}"},
                        Applicability.UNSAFE)
        for (keep, keep_req), (other, _) in ((pair[0], pair[1]), (pair[1], pair[0]))
        if not is_kept(other.name, ctx.keep))
    return entry.finding(
        f"{first.name} {first.version} requires {name}{first_req.specifier} and {second.name} {second.version} "
        f"requires {name}{second_req.specifier}: no {name} release on the index satisfies both "
        f"({listed} listed), so `pip install` stops with ResolutionImpossible",
        packages=(first.name, second.name, name), locations=pin_locations(ctx.snapshot, (first.name, second.name)),
        covers=((first.name, name), (second.name, name)), fixes=fixes)


def _released(ctx: Context, name: str) -> list[str]:
    """Final releases of ``name`` on the first configured index that lists it (empty when none does)."""
    from envdoctor.env import fetch, index, releases

    for url in index.index_config(ctx.snapshot).urls:
        try:
            return releases.index_versions(url, name)
        except (fetch.FetchError, fetch.NotFound):
            continue
    return []
