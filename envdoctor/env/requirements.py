"""Declared requirements of installed or pinned distributions: parsing, markers, extras, ownership."""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import cache

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from envdoctor.env.probe import canonical_name
from envdoctor.env.snapshot import Distribution, Snapshot

_EXTRA_ONLY = re.compile(r""";\s*extra\s*==\s*(['"])([^'"]+)\1\s*$""")


def extra_gate(text: str) -> str | None:
    """The (normalised) extra that gates a Requires-Dist line whose marker is only ``extra == "X"``."""
    match = _EXTRA_ONLY.search(text)
    return canonical_name(match.group(2)) if match else None


@cache
def parse_requirement(text: str) -> Requirement | None:
    """A parsed Requires-Dist line, or None when it is not valid PEP 508."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def _marker_holds(req: Requirement, env: dict[str, str], extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    try:
        return any(req.marker.evaluate({**env, "extra": extra}) for extra in ("", *extras))
    except UndefinedEnvironmentName:
        return False


def requested_extras(snap: Snapshot) -> dict[str, set[str]]:
    """For each distribution, the extras that installed requirers ask of it."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for dist in snap.distributions.values():
        for text in dist.requires:
            if extra_gate(text) is not None:
                continue  # inactive without extras
            req = parse_requirement(text)
            if req is not None and req.extras and _marker_holds(req, snap.marker_env, ()):
                wanted[canonical_name(req.name)].update(canonical_name(e) for e in req.extras)
    return wanted


def active_requirements(dist: Distribution, snap: Snapshot, extras: Iterable[str] = ()) -> Iterator[Requirement]:
    """``dist``'s requirements whose markers hold for the target (with ``extras``)."""
    extras = tuple(canonical_name(e) for e in extras)
    for text in dist.requires:
        gate = extra_gate(text)
        if gate is not None and gate not in extras:
            continue
        req = parse_requirement(text)
        if req is not None and _marker_holds(req, snap.marker_env, extras):
            yield req


def is_kept(name: str, keep: Iterable[str]) -> bool:
    """Whether ``name`` matches a kept (platform-owned or --keep) package pattern."""
    return any(fnmatch.fnmatch(name, canonical_name(p) if "*" not in p else p) for p in keep)


def parse_version(text: str | None) -> Version | None:
    """A PEP 440 version, or None when absent or not PEP 440."""
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def admits_python(requires_python: str | None, python: str | Version) -> bool | None:
    """Whether a Requires-Python value admits ``python`` (pre-releases count, as pip counts them):
    True when there is none, None when it is not a valid specifier (pip ignores such a value)."""
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return None
