"""Release history on the index, for the requirer's side of a declared conflict.

``torchvision 0.18.0 requires torch==2.3.0, but you have torch 2.2.1``: besides moving torch,
the requirer can move to a release whose declared requirement admits the installed version.
:func:`accepting` reads the requirer's release list (PEP 691/503) and the metadata of the
releases nearest the logged one (PEP 658 files or the wheel's METADATA by range requests),
at most :data:`MAX_PROBES` of them; the metadata cache makes a second run free.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from envdoctor.env import fetch, index, pipconfig
from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import parse_requirement, parse_version

MAX_PROBES = 8


def _versions(files: list[index.IndexFile]) -> list[Version]:
    found: set[Version] = set()
    for item in files:
        version = item.version()
        if version is not None and not (item.yanked or version.is_prerelease or version.is_devrelease):
            found.add(version)
    return sorted(found)


def accepting(requirer: str, requirer_version: str | None, dependency: str, installed: str) -> Version | None:
    """The release of ``requirer`` nearest ``requirer_version`` whose requirement on ``dependency`` admits ``installed``."""
    try:
        have = Version(installed.split("+")[0])
        near = Version(requirer_version) if requirer_version else None
    except InvalidVersion:
        return None
    config = pipconfig.read()
    urls = config.urls
    try:
        versions = _versions(next((f for url in urls if (f := index.project_files(url, requirer))), []))
    except (fetch.FetchError, fetch.NotFound):
        return None
    order = sorted(versions, key=lambda v: (abs(versions.index(v) - versions.index(near)) if near in versions
                                            else -versions.index(v)))
    for version in order[:MAX_PROBES]:
        requires = index.requires_of(requirer, str(version), config)
        if requires is None:
            continue
        pins = [r for r in (parse_requirement(text) for text in requires)
                if r is not None and canonical_name(r.name) == dependency and not r.marker]
        if pins and all(r.specifier.contains(have, prereleases=True) for r in pins):
            return version
    return None


def lists(name: str, versions: list[str]) -> bool:
    """Whether a configured index lists project ``name`` with every one of ``versions`` (False when
    no index answers: a name is not taken for a distribution on no evidence)."""
    wanted = {parse_version(v) for v in versions}
    if None in wanted or not wanted:
        return False
    for url in pipconfig.read().urls:
        try:
            files = index.project_files(url, name)
        except (fetch.FetchError, fetch.NotFound):
            continue
        if wanted <= {f.version() for f in files}:
            return True
    return False
