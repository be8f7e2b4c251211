"""Declared requirements: what `pip check` does, plus Python, markers and extras.

ED001 unmet-requirement, ED002 unsupported-python, ED003 shadowed-distribution,
ED004 incomplete-lock, ED005 pin-not-on-index.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import (
    active_requirements,
    is_kept,
    parse_version,
    requested_extras,
)
from envdoctor.env.snapshot import Distribution
from envdoctor.findings import (
    Applicability,
    Finding,
    Fix,
    brief_list,
    hint,
    pip_install_fix,
)
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.base import Context, implements, pin_locations


# A Requires-Dist line whose whole marker is `extra == "X"` (three lines in four): its extra is
# read with a regular expression, so lines for extras nobody asked for are never parsed.
def _mismatch_fix(requirer: Distribution, req: Requirement, installed: str, kept: bool) -> Fix:
    name = canonical_name(req.name)
    if kept:
        return Fix(
            title=(
                f"keep {name} {installed} (the platform owns it) and install a {requirer.name} "
                f"release that supports it, or uninstall {requirer.name} if the run does not use it"
            ),
            applicability=Applicability.DISPLAY_ONLY,
        )
    return pip_install_fix(
        f"move {name} into {requirer.name}'s range {req.specifier}", {name: str(req.specifier)}, Applicability.UNSAFE
    )


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
            kept = is_kept(name, ctx.keep)
            yield entry.finding(
                f"{dist.name} {dist.version} requires {name}{req.specifier}, but {name} {target.version} is installed",
                packages=(dist.name, name),
                covers=((dist.name, name),),
                locations=pin_locations(snap, (name,)),
                fixes=(_mismatch_fix(dist, req, target.version, kept),),
            )


@implements("ED002")
def unsupported_python(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Every distribution's Requires-Python admits the target Python."""
    snap = ctx.snapshot
    for dist in sorted(snap.distributions.values(), key=lambda d: d.name):
        if not dist.requires_python:
            continue
        try:
            spec = SpecifierSet(dist.requires_python)
        except InvalidSpecifier:
            continue
        if not spec.contains(snap.python_version, prereleases=True):
            yield entry.finding(
                f"{dist.name} {dist.version} requires Python {spec}, but the target runs Python {snap.python_version}",
                packages=(dist.name,),
                locations=pin_locations(snap, (dist.name,)),
                fixes=(hint(f"install a {dist.name} release that supports Python {snap.python_version}"),),
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
    for dist in sorted(snap.distributions.values(), key=lambda d: d.name):
        missing = sorted(
            {canonical_name(req.name) for req in active_requirements(dist, snap, extras.get(dist.name, ()))}
            - set(snap.distributions)
        )
        missing = [name for name in missing if not is_kept(name, ctx.provided)]
        if not missing:
            continue
        yield entry.finding(
            f"{dist.name} {dist.version} requires {brief_list(missing)}, which the lock does not pin",
            packages=(dist.name, *missing),
            locations=pin_locations(snap, (dist.name,)),
            fixes=(hint("re-lock with `envdoctor lock` so every dependency is pinned"),),
        )


@implements("ED005")
def pin_not_on_index(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A pinned version that none of the configured indexes lists (found by envdoctor.env.index)."""
    snap = ctx.snapshot
    for name, version in sorted(snap.not_on_index.items()):
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
