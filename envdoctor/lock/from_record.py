"""`envdoctor lock --from RECORD`: a hashed lock of a recorded environment.

The pins are the record's exact versions (local labels kept: ``torch==2.13.0+cpu``).  The hashes
are those of the files of exactly that version that the target (the record's Python and
platform) can install, from every index and find-links folder pip is configured with plus those
the record names: the index's own sha256 where its page lists one (PEP 691 ``hashes``, a
``#sha256=`` fragment), else the sha256 of the downloaded file.  pip's hash-checking mode then
accepts whichever of those files it picks.  Distributions installed from a path or URL (an
editable checkout) have no index file to hash; they are left out and named in the header, and so
is pip's own tooling (pip, setuptools, wheel), as pip-compile leaves it out by default.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from packaging import tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from envdoctor.env import fetch, index, pipconfig
from envdoctor.env.lock_header import LockHeader, input_digest
from envdoctor.env.record import RecordedEnvironment, pip_sources
from envdoctor.errors import InputError
from envdoctor.fix.plan import TOOLING
from envdoctor.fix.resolve import Resolved


@dataclass(frozen=True)
class RecordLock:
    """The pins with their hashes, what was left out, and the header to write."""

    resolved: Resolved
    header: LockHeader
    left_out: dict[str, str]  # name -> the URL it was installed from


def _matches(filename: str, name: str, version: Version, ranking: dict[tags.Tag, int]) -> bool:
    """Whether ``filename`` is a file of ``name==version`` the target can install."""
    try:
        if filename.endswith(".whl"):
            file_name, file_version, _, file_tags = parse_wheel_filename(filename)
            compatible = any(t in ranking for t in file_tags)
        else:
            file_name, file_version = parse_sdist_filename(filename)
            compatible = True
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return False
    return file_name == name and file_version == version and compatible


def _sha256_of(url: str) -> str:
    body, _, _ = fetch.get(url.split("#", 1)[0])
    return "sha256:" + hashlib.sha256(body).hexdigest()


def file_hashes(name: str, version: str, indexes: list[str], links: list[str],
                ranking: dict[tags.Tag, int]) -> list[str]:
    """sha256 of every installable file of ``name==version`` on ``indexes`` and in ``links``."""
    wanted = Version(version)
    found: set[str] = set()
    for url in indexes:
        try:
            files = index.project_files(url, name)
        except fetch.NotFound:
            continue
        except fetch.FetchError as exc:
            raise InputError(f"{pipconfig.redact(url)}: cannot list {name} ({exc}); check the index or the network")
        for item in files:
            if _matches(item.filename, name, wanted, ranking) and not item.yanked:
                found.update(item.hashes or (_sha256_of(item.url),))
    for link in links:
        folder = fetch.local_path(link) if link.startswith("file:") else Path(link)
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if _matches(path.name, name, wanted, ranking):
                    found.add("sha256:" + hashlib.sha256(path.read_bytes()).hexdigest())
    return sorted(found)


def lock_record(recorded: RecordedEnvironment, output: Path) -> RecordLock:
    """Hash every recorded pin; raise :class:`InputError` naming the pins no source offers."""
    current = pip_sources()
    sources = [current, recorded.pip_sources]
    indexes = list(dict.fromkeys(u for s in sources if not s.get("no_index")
                                 for u in [s.get("index_url"), *s.get("extra_index_urls", ())]
                                 if u and ":***@" not in u))
    links = list(dict.fromkeys(link for s in sources for link in s.get("find_links", ())))
    ranking = index.tag_ranking(recorded.snapshot)
    pins: list[tuple[str, str, tuple[str, ...]]] = []
    left_out: dict[str, str] = {}
    missing: list[str] = []
    tooling: list[str] = []
    for name, dist in sorted(recorded.snapshot.distributions.items()):
        if dist.direct_url:
            left_out[name] = dist.direct_url
            continue
        if name in TOOLING:
            tooling.append(name)  # pip's own tooling, left out as pip-compile does without --allow-unsafe
            continue
        digests = file_hashes(name, dist.version, indexes, links, ranking)
        if not digests:
            missing.append(f"{name}=={dist.version}")
        pins.append((name, dist.version, tuple(digests)))
    if missing:
        searched = ", ".join(pipconfig.redact(u) for u in [*indexes, *links]) or "no index (--no-index)"
        raise InputError(f"{recorded.path}: no installable file of {', '.join(missing)} for Python "
                         f"{recorded.python} {recorded.platform} on {searched}; add the index that served "
                         "them (PIP_EXTRA_INDEX_URL or PIP_FIND_LINKS) and run again")
    made_with = (f"envdoctor lock --from: the {recorded.kind}'s exact pins, sha256 of each version's files "
                 f"for Python {recorded.python} {recorded.platform} on the configured indexes; pip, setuptools "
                 "and wheel left out")
    if left_out:
        made_with += "; not locked (installed from a path or URL): " + ", ".join(
            f"{n} @ {u}" for n, u in sorted(left_out.items()))
    argv = ["envdoctor", "lock", "--from", str(recorded.path), "-o", str(output)]
    header = LockHeader(python=recorded.python, platform=recorded.platform, cuda=recorded.cuda,
                        source=os.path.relpath(recorded.path.resolve(), output.resolve().parent),
                        digest=input_digest(recorded.path), made_with=made_with, command=shlex.join(argv),
                        excluded=", ".join(sorted([*left_out, *tooling])))
    return RecordLock(resolved=Resolved(pins=pins, made_with=made_with), header=header, left_out=left_out)
