"""Which torch (and triton) a build expects: from its metadata, its wheel tag, or the release snapshot."""

from __future__ import annotations

import re
from dataclasses import replace

from packaging.specifiers import SpecifierSet

from envdoctor.env import releases
from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements, parse_version
from envdoctor.env.snapshot import Distribution, Snapshot


def table_lookup(rows: list[dict[str, str]], key: str, version: str, value: str) -> str | None:
    """First row of a knowledge-base table whose ``key`` specifier holds ``version``."""
    parsed = parse_version(version)
    if parsed is None:
        return None
    for row in rows:
        if SpecifierSet(row[key]).contains(parsed, prereleases=True):
            return row[value]
    return None


def declared_pin(dist: Distribution, snap: Snapshot, name: str) -> str | None:
    """``dist``'s specifier on ``name`` from its metadata (markers evaluated), or None."""
    for req in active_requirements(dist, snap):
        if canonical_name(req.name) == name and req.specifier:
            return str(req.specifier)
    return None


def declared_or_recorded(dist: Distribution, snap: Snapshot, name: str) -> tuple[str | None, str] | None:
    """``dist``'s specifier on ``name`` (markers evaluated for ``snap``) and where it was read: its metadata,
    else the release snapshot; None when neither knows the release."""
    if dist.metadata_known:
        return declared_pin(dist, snap, name), f"{dist.name}'s metadata"
    recorded = releases.shipped()
    release = recorded.release(dist.name, name, dist.version)
    if release is None:
        return None
    return (declared_pin(replace(dist, requires=release.requires), snap, name),
            f"{dist.name} {release.version}'s metadata in {recorded.describe()}")


def built_for_torch(dist: Distribution, snap: Snapshot) -> tuple[str | None, str]:
    """The exact torch an extension was built for (``==X``), and where that fact came from."""
    if dist.name == "flash-attn":
        for text in (dist.version, dist.direct_url or ""):
            if m := re.search(r"torch(\d+\.\d+)", text):
                return f"=={m.group(1)}.*", "its wheel's build tag"
        return None, ""
    found = declared_or_recorded(dist, snap, "torch")
    if found is None or found[0] is None or not found[0].startswith("=="):
        return None, ""  # unknown, or a range (a stable-ABI build such as xformers 0.0.35's torch>=2.10)
    return found
