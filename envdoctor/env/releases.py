"""What each release of a package declares about one dependency, read from the releases' metadata.

Some facts rules need are properties of a package's *other* releases: which vllm release pins the
installed torch (ED120's fix), which triton a torch release requires on the target's Python (ED102
for a lock file whose metadata is unknown), which trl release stops capping NumPy (ED112). They are
the releases' own ``Requires-Dist`` lines, kept verbatim (markers are evaluated later, for the
target). They come from

* the shipped snapshot ``checks/release_requirements.json``: dated, written by :func:`generate`
  (``python -m envdoctor.env.releases``) from the index, and compared with the live index by an
  opt-in test (``ENVDOCTOR_LIVE_INDEX=1``), so it cannot go stale silently;
* for lock-file targets that are not ``--offline``, the configured index for releases newer than
  the snapshot (their metadata files or HTTP range reads of a wheel, through
  :mod:`envdoctor.env.index`, cached on disk).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from packaging import tags
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

import envdoctor.checks as checks_package
from envdoctor.env import pipconfig
from envdoctor.env.probe import canonical_name
from envdoctor.env.snapshot import Snapshot

SNAPSHOT_PATH = Path(checks_package.__file__).parent / "release_requirements.json"
# The wheels the snapshot is read from. Markers stay in the lines, so other Pythons and platforms
# evaluate them at use time (torch's cp311, cp312 and cp313 wheels declare the same triton line).
SNAPSHOT_TARGET = ("3.12", "Linux", "x86_64")
MAX_NEWER = 12  # releases beyond the snapshot read from the index per question


@dataclass(frozen=True)
class Pair:
    """A package whose releases' requirements on ``dependency`` the snapshot records, from ``since``."""

    package: str
    dependency: str
    since: str


PAIRS = (
    Pair("torch", "triton", "2.0.0"),
    Pair("vllm", "torch", "0.4.0"),
    Pair("torchvision", "torch", "0.15.0"),
    Pair("torchaudio", "torch", "2.0.0"),
    Pair("xformers", "torch", "0.0.20"),
    Pair("trl", "numpy", "0.4.7"),
    Pair("llamafactory", "numpy", "0.7.0"),
)


@dataclass(frozen=True)
class Release:
    """One release: its Requires-Dist lines naming the dependency, and its Requires-Python."""

    version: str
    requires: tuple[str, ...]
    requires_python: str | None = None


@dataclass(frozen=True)
class ReleaseSnapshot:
    """A snapshot document: ``facts[package][dependency][version]``, read on ``generated`` from ``index_url``."""

    generated: str
    index_url: str
    facts: dict[str, dict[str, dict[str, Release]]]

    def release(self, package: str, dependency: str, version: str) -> Release | None:
        """The recorded release ``package==version`` (a local label such as ``+cu124`` dropped), or None."""
        return self.facts.get(canonical_name(package), {}).get(canonical_name(dependency), {}).get(public(version))

    def releases(self, package: str, dependency: str) -> list[Release]:
        """Every recorded release of ``package``, oldest first."""
        found = self.facts.get(canonical_name(package), {}).get(canonical_name(dependency), {})
        return sorted(found.values(), key=lambda r: Version(r.version))

    def describe(self) -> str:
        """``the release snapshot of 2026-12-01``, for messages."""
        return f"the release snapshot of {self.generated}"


def public(version: str) -> str:
    """The public part of a version (``2.6.0+cu124`` -> ``2.6.0``); unparsable text as it is."""
    try:
        return Version(version).public
    except InvalidVersion:
        return version


def lines_on(requires: Iterable[str], dependency: str) -> tuple[str, ...]:
    """The Requires-Dist lines of ``requires`` that name ``dependency``, verbatim."""
    wanted = canonical_name(dependency)
    found = []
    for text in requires:
        try:
            if canonical_name(Requirement(text).name) == wanted:
                found.append(text)
        except InvalidRequirement:
            continue
    return tuple(found)


def parse_snapshot(data: Any, source: str) -> ReleaseSnapshot:
    """A snapshot from its JSON document; a malformed one raises ValueError naming ``source``."""
    try:
        facts = {pkg: {dep: {v: Release(v, tuple(r["requires"]), r.get("requires_python"))
                             for v, r in releases.items()}
                       for dep, releases in deps.items()}
                 for pkg, deps in data["facts"].items()}
        return ReleaseSnapshot(generated=str(data["generated"]), index_url=str(data["index"]), facts=facts)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{source}: not a release snapshot ({type(exc).__name__}: {exc})") from exc


@cache
def shipped(path: Path = SNAPSHOT_PATH) -> ReleaseSnapshot:
    """The shipped snapshot (read once per process)."""
    return parse_snapshot(json.loads(path.read_text(encoding="utf-8")), str(path))


# --- the index -------------------------------------------------------------------------------

def index_versions(index_url: str, package: str, since: str | None = None) -> list[str]:
    """Final releases (no pre- or dev releases) of ``package`` on ``index_url`` from ``since``, oldest first."""
    from envdoctor.env import index  # the network stack (http.client, ssl: ~40 ms) loads only when used
    floor = Version(since) if since else None
    found: set[Version] = set()
    for item in index.project_files(index_url, package):
        try:
            version = (parse_wheel_filename(item.filename)[1] if item.filename.endswith(".whl")
                       else parse_sdist_filename(item.filename)[1])
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if not (version.is_prerelease or version.is_devrelease or (floor is not None and version < floor)):
            found.add(version)
    return [str(v) for v in sorted(found)]


def read_releases(package: str, dependency: str, versions: list[str], config: pipconfig.IndexConfig,
                  ranking: dict[tags.Tag, int]) -> list[Release]:
    """Releases ``versions`` of ``package`` from the metadata cache, else the index (then cached).

    A release whose metadata cannot be read is left out.
    """
    from envdoctor.env import index
    found: dict[str, Release] = {}
    missing = []
    for version in versions:
        meta = index.cache_read(package, version)
        if meta is None:
            missing.append(version)
        else:
            found[version] = Release(version, lines_on(meta.requires, dependency), meta.requires_python)
    for lookup in index.fetch_all([(package, v) for v in missing], config, ranking):
        if lookup.metadata is not None:
            index.cache_write(package, lookup.version, lookup.metadata)
            found[lookup.version] = Release(lookup.version, lines_on(lookup.metadata.requires, dependency),
                                            lookup.metadata.requires_python)
    return [found[v] for v in versions if v in found]


def history(package: str, dependency: str, snap: Snapshot, offline: bool,
            recorded: ReleaseSnapshot | None = None) -> tuple[list[Release], str]:
    """Every known release of ``package`` with its lines on ``dependency`` (oldest first), and their origin.

    The snapshot's releases; for a lock-file target that is not ``offline``, plus up to
    :data:`MAX_NEWER` releases that the first reachable configured index lists beyond them.
    """
    recorded = recorded or shipped()
    known = recorded.releases(package, dependency)
    origin = recorded.describe()
    if offline or not snap.source.startswith("file:"):
        return known, origin
    from envdoctor.env import fetch, index
    newest = Version(known[-1].version) if known else None
    config = index.index_config(snap)
    for index_url in config.urls:
        try:
            listed = index_versions(index_url, package)
        except (fetch.FetchError, fetch.NotFound):
            continue
        newer = [v for v in listed if newest is None or Version(v) > newest][-MAX_NEWER:]
        if newer:
            known = known + read_releases(package, dependency, newer, config, index.tag_ranking(snap))
            origin += f" and {len(newer)} newer release(s) on {pipconfig.redact(index_url)}"
        break
    return known, origin


# --- generating the snapshot -----------------------------------------------------------------

def generate(index_url: str, pairs: Iterable[Pair] = PAIRS, today: str | None = None) -> dict[str, Any]:
    """The snapshot document for ``pairs``: every final release since each floor, read from ``index_url``."""
    from envdoctor.env import index
    ranking = index.ranking_of(index.tags_for(*SNAPSHOT_TARGET))
    facts: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for pair in pairs:
        versions = index_versions(index_url, pair.package, pair.since)
        releases = read_releases(pair.package, pair.dependency, versions,
                                 pipconfig.IndexConfig(index_url, (), "--index"), ranking)
        facts.setdefault(pair.package, {})[pair.dependency] = {
            r.version: {"requires": list(r.requires), "requires_python": r.requires_python} for r in releases}
    return {"generated": today or _dt.date.today().isoformat(), "index": index_url,
            "target": "CPython {} {} {} wheels; markers kept".format(*SNAPSHOT_TARGET), "facts": facts}


def main(argv: list[str] | None = None) -> int:
    """``python -m envdoctor.env.releases [--index URL] [--out PATH]``: regenerate the snapshot."""
    parser = argparse.ArgumentParser(prog="python -m envdoctor.env.releases",
                                     description="Regenerate the release-requirements snapshot from a package index.")
    parser.add_argument("--index", default=pipconfig.PYPI_SIMPLE, help="simple index to read (default: pip's)")
    parser.add_argument("--out", type=Path, default=SNAPSHOT_PATH, help="file to write")
    args = parser.parse_args(argv)
    doc = generate(args.index)
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    counts = ", ".join(f"{pkg} {sum(len(v) for v in deps.values())}" for pkg, deps in doc["facts"].items())
    print(f"wrote {args.out}: {counts} releases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
