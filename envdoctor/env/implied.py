"""What a file target's pins imply: the unlisted distributions their metadata fixes, transitively.

A freeze pasted into an issue lists a few packages, not the whole environment.  The metadata
of each pinned version still says what pip installed beside it: ``torch==2.6.0`` declares
``triton==3.2.0`` on Linux x86_64, so a file holding torch 2.6.0 and bitsandbytes 0.44.1 has
triton 3.2.0 as surely as if it were written.  :func:`infer` adds such distributions to the
snapshot, marked with the chain of pins that implies them (``implied_by``), reads their own
metadata and repeats until nothing new is implied.

- An exact requirement (``==V``, no wildcard) on an unlisted distribution implies version V.
- A narrow range (both bounds inside one ``X.Y`` series, e.g. ``~=3.8.0``, ``==3.8.*``)
  implies a range: recorded in :attr:`Snapshot.implied_ranges`, never guessed into a version.
- Anything wider implies nothing, so no rule reports what a guess made up.

Markers are evaluated for the target's Python and platform; extras asked by other pins count.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements, requested_extras
from envdoctor.env.snapshot import Distribution, ImpliedRange, Snapshot

MAX_DEPTH = 8  # torch -> triton -> ... chains are 2-3 long; this only stops a cycle of bad metadata

Fill = Callable[[Snapshot, Collection[str]], Snapshot]


def exact_version(req: Requirement) -> str | None:
    """The version an ``==V`` (or ``===V``) requirement names; None for anything else."""
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or specs[0].version.endswith(".*"):
        return None
    return specs[0].version


def _bounds(spec: SpecifierSet) -> tuple[Version | None, Version | None]:
    """The lowest admitted version and the (exclusive or inclusive) upper bound of ``spec``."""
    low: Version | None = None
    high: Version | None = None

    def raise_low(v: Version) -> None:
        nonlocal low
        low = v if low is None or v > low else low

    def drop_high(v: Version) -> None:
        nonlocal high
        high = v if high is None or v < high else high

    for item in spec:
        text = item.version.removesuffix(".*")
        try:
            version = Version(text)
        except InvalidVersion:
            return None, None
        if item.operator in (">=", ">"):
            raise_low(version)
        elif item.operator in ("<", "<="):
            drop_high(version)
        elif item.operator == "~=":
            raise_low(version)
            release = version.release[:-1]
            drop_high(Version(".".join(map(str, (*release[:-1], release[-1] + 1)))))
        elif item.operator == "==" and item.version.endswith(".*"):
            raise_low(version)
            release = version.release
            drop_high(Version(".".join(map(str, (*release[:-1], release[-1] + 1)))))
    return low, high


def is_narrow(spec: SpecifierSet) -> bool:
    """Whether ``spec`` admits only versions of one ``X.Y`` release series (``~=3.8.0``, ``>=1.13,<1.14``)."""
    low, high = _bounds(spec)
    if low is None or high is None:
        return False
    major, minor = (*low.release, 0)[:2]
    return high <= Version(f"{major}.{minor + 1}")


def _pin(dist: Distribution) -> str:
    return f"{dist.name}=={dist.version}"


def describe(dist: Distribution) -> str:
    """``triton 3.2.0, implied by torch==2.6.0`` (``… by torch==2.6.0 ← torchvision==0.21.0`` for two steps)."""
    return f"{dist.name} {dist.version}, implied by {' ← '.join(dist.implied_by)}"


def _one_round(snap: Snapshot, frontier: Collection[str]) -> tuple[dict[str, Distribution], list[ImpliedRange]]:
    """Distributions and ranges that the metadata of ``frontier`` implies and the snapshot lacks."""
    extras = requested_extras(snap)
    found: dict[str, Distribution] = {}
    ranges: list[ImpliedRange] = []
    for name in sorted(frontier):
        dist = snap.distributions[name]
        if not dist.metadata_known:
            continue
        chain = (_pin(dist), *dist.implied_by)
        for req in active_requirements(dist, snap, extras.get(name, ())):
            wanted = canonical_name(req.name)
            if wanted in snap.distributions or wanted in found:
                continue
            version = exact_version(req)
            if version is not None:
                found[wanted] = Distribution(name=wanted, version=version, metadata_known=False, implied_by=chain)
            elif is_narrow(req.specifier):
                ranges.append(ImpliedRange(name=wanted, spec=str(req.specifier), implied_by=chain))
    return found, ranges


def infer(snap: Snapshot, fill: Fill) -> Snapshot:
    """``snap`` with every distribution its pins imply added (see the module docstring).

    ``fill(snapshot, names)`` returns the snapshot with metadata filled for ``names``
    (from the cache, or the index unless offline) so that the walk can go on from them.
    """
    frontier: Collection[str] = [n for n, d in snap.distributions.items() if d.metadata_known]
    ranges: dict[str, ImpliedRange] = {}
    for _ in range(MAX_DEPTH):
        found, new_ranges = _one_round(snap, frontier)
        for item in new_ranges:
            ranges.setdefault(item.name, item)
        if not found:
            break
        snap = fill(snap.with_changes(distributions={**snap.distributions, **found}), sorted(found))
        frontier = sorted(found)
    kept = tuple(r for name, r in sorted(ranges.items()) if name not in snap.distributions)
    return snap.with_changes(implied_ranges=kept)


def implied_note(snap: Snapshot) -> str | None:
    """One note listing what was inferred, or None when nothing was."""
    implied = [d for d in sorted(snap.distributions.values(), key=lambda d: d.name) if d.implied_by]
    if not implied and not snap.implied_ranges:
        return None
    parts = [describe(d) for d in implied]
    parts += [describe_range(r) for r in snap.implied_ranges]
    shown = "; ".join(parts[:8]) + (f"; and {len(parts) - 8} more (JSON lists them)" if len(parts) > 8 else "")
    ranges = f" and {len(snap.implied_ranges)} range(s)" if snap.implied_ranges else ""
    return (f"inferred {len(implied)} unlisted package(s){ranges} from the pins' metadata: {shown} "
            "(--no-infer checks only what the file lists)")


def range_within(item: ImpliedRange, spec: SpecifierSet) -> bool:
    """Whether every version of the implied range ``item`` satisfies ``spec``.

    A narrow range lies inside one ``X.Y`` series, from its lowest admitted version to the top
    of that series; ``spec`` is checked at both ends, which decides it for the interval
    conditions (``>=``, ``<``, ``==``) rules are written with.
    """
    low, _ = _bounds(SpecifierSet(item.spec))
    if low is None:
        return False
    major, minor = (*low.release, 0)[:2]
    top = Version(f"{major}.{minor}.{10**9}")
    inside = SpecifierSet(item.spec)
    ends = [v for v in (low, top) if inside.contains(v, prereleases=True)]
    return bool(ends) and all(spec.contains(v, prereleases=True) for v in ends)


def describe_range(item: ImpliedRange) -> str:
    """``triton~=3.8.0, implied by torch==2.14.1``."""
    return f"{item.name}{item.spec}, implied by {' ← '.join(item.implied_by)}"
