"""A recorded environment as a target: a snapshot JSON or a run record (``training_info.json``).

`envdoctor fix --to RECORD`, `envdoctor lock --from RECORD` and `envdoctor reproduce RECORD`
read one through :func:`load`.  The recorded Python and platform are checked before anything
else (:meth:`RecordedEnvironment.check_interpreter`): wheels are built per Python minor version
and platform, so pins taken to another Python are a different environment.  Build variants stay
exact: ``torch==2.13.0+cpu`` keeps its local label, and the record's ``pip_sources`` (schema 2)
name the indexes and find-links pip had when the run was recorded.
"""

from __future__ import annotations

import configparser
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor import userfiles
from envdoctor.env import pipconfig
from envdoctor.env.snapshot import Snapshot, load_json, torch_build
from envdoctor.errors import InputError

# --platform names (envdoctor.env.target.PLATFORMS) by (platform.system(), platform.machine()).
PLATFORM_NAMES = {("Linux", "x86_64"): "linux_x86_64", ("Linux", "aarch64"): "linux_aarch64",
                  ("Darwin", "arm64"): "macosx_arm64", ("Darwin", "x86_64"): "macosx_x86_64",
                  ("Windows", "AMD64"): "win_amd64"}


def pip_sources(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The indexes and find-links pip is configured with (passwords redacted), in pip's order."""
    environ = os.environ if environ is None else environ
    config = pipconfig.read(environ)
    links = shlex.split(environ.get("PIP_FIND_LINKS", "")) or _config_list(environ, "find-links")
    return {"index_url": pipconfig.redact(config.index_url),
            "extra_index_urls": [pipconfig.redact(u) for u in config.extra_index_urls],
            "find_links": links, "no_index": config.no_index}


def _config_list(environ: Mapping[str, str], key: str) -> list[str]:
    """A whitespace-separated pip setting from the config files (the last file that sets it wins)."""
    found: list[str] = []
    for path in pipconfig.config_files(environ):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError, OSError):
            continue
        for section in pipconfig.SECTIONS:
            if parser.has_option(section, key):
                found = parser.get(section, key).split()
    return found


def is_json(path: Path) -> bool:
    """Whether ``path`` holds JSON (a snapshot or a record) rather than requirement lines."""
    try:  # non-blocking and regular files only: a FIFO or a device cannot hang or flood this
        return userfiles.read_bytes(path, "record", head=64).lstrip().startswith(b"{")
    except InputError:
        return False


@dataclass(frozen=True)
class RecordedEnvironment:
    """The environment a snapshot or a run record describes."""

    path: Path
    snapshot: Snapshot
    kind: str  # "run record" | "snapshot"
    pip_sources: dict[str, Any] = field(default_factory=dict)

    @property
    def python(self) -> str:
        """The recorded Python as ``X.Y``."""
        return ".".join(self.snapshot.python_version.split(".")[:2])

    @property
    def platform(self) -> str:
        """The recorded platform as a ``--platform`` name (``linux_x86_64``)."""
        snap = self.snapshot
        return PLATFORM_NAMES.get((snap.system, snap.machine), f"{snap.system.lower()}_{snap.machine}")

    @property
    def cuda(self) -> str | None:
        """The CUDA version of the recorded torch build, if any."""
        kind, version = torch_build(self.snapshot)
        return version if kind == "cuda" else None

    def pins(self) -> dict[str, str]:
        """Every recorded distribution's exact version (local labels kept)."""
        return {d.name: d.version for d in self.snapshot.distributions.values()}

    def requirement(self, name: str) -> str:
        """What pip installs for ``name``: ``name==version``, or ``name @ URL`` for a URL or path install."""
        dist = self.snapshot.distributions[name]
        return f"{name} @ {dist.direct_url}" if dist.direct_url else f"{name}=={dist.version}"

    def source_options(self, current: dict[str, Any]) -> list[str]:
        """pip options adding the recorded indexes and find-links that ``current`` (a
        :func:`pip_sources` result) lacks; an index whose password was redacted cannot be added."""
        have = {current.get("index_url"), *current.get("extra_index_urls", ())}
        options: list[str] = []
        sources = self.pip_sources
        for url in [sources.get("index_url"), *sources.get("extra_index_urls", ())]:
            if url and url not in have and ":***@" not in url:
                options.append(f"--extra-index-url={url}")
        links = set(current.get("find_links", ()))
        options += [f"--find-links={link}" for link in sources.get("find_links", ()) if link not in links]
        return options

    def check_interpreter(self, target: Snapshot) -> None:
        """Raise :class:`InputError` naming the interpreter needed when ``target`` is another Python
        (minor version or implementation) or another platform than the record's."""
        snap = self.snapshot
        have = ".".join(target.python_version.split(".")[:2])
        where = target.executable or target.source
        if (have, target.implementation) != (self.python, snap.implementation):
            raise InputError(
                f"{self.path}: records {snap.implementation} {snap.python_version}, but {where} is "
                f"{target.implementation} {target.python_version}; the pins need Python {self.python}: "
                f"make a venv with it (`python{self.python} -m venv DIR`) and pass --python DIR/bin/python")
        if (target.system, target.machine) != (snap.system, snap.machine):
            raise InputError(f"{self.path}: records {snap.system} {snap.machine}, but {where} runs on "
                             f"{target.system} {target.machine}; rebuild it on a {self.platform} machine")


def load(path: Path) -> RecordedEnvironment:
    """Read a snapshot JSON or a run record; a one-line :class:`InputError` for anything else."""
    if not path.is_file():
        raise InputError(f"{path}: no such file; pass a run record (training_info.json) or a snapshot JSON")
    data = userfiles.load_json(path, "record", "pass a run record (training_info.json) or a snapshot JSON")
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a snapshot or run record (a JSON object); pass training_info.json")
    snap = load_json(path)
    is_record = isinstance(data.get("environment"), dict)
    sources = (data.get("reproduce") or {}).get("pip_sources") or {} if is_record else {}
    return RecordedEnvironment(path=path, snapshot=snap, kind="run record" if is_record else "snapshot",
                               pip_sources=dict(sources))
