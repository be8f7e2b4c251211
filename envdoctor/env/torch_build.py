"""Which torch (and triton) a build expects: from its metadata, its wheel tag, or the knowledge base."""

from __future__ import annotations

import re

from packaging.specifiers import SpecifierSet

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


def built_for_torch(dist: Distribution, snap: Snapshot, rows: list[dict[str, str]]) -> tuple[str | None, str]:
    """The torch an extension was built for, and where that fact came from.

    ``rows`` is the knowledge base's table for ``dist`` (used when its metadata is unknown)."""
    if dist.name == "flash-attn":
        for text in (dist.version, dist.direct_url or ""):
            if m := re.search(r"torch(\d+\.\d+)", text):
                return f"=={m.group(1)}.*", "its wheel's build tag"
        return None, ""
    if dist.metadata_known:
        spec = declared_pin(dist, snap, "torch")
        if spec and spec.startswith("=="):
            return spec, f"{dist.name}'s metadata"
        return None, ""
    spec = table_lookup(rows, "version", dist.version, "torch")
    return spec, "the knowledge base"
