"""Release eras: which minor line of a library was the newest when another package's release was uploaded.

A compiled extension links against the C++ symbols of the torch it was built with, and those
change between torch's minor releases. Many extensions say nothing about it in their metadata:
flash-attn's sdist fetches a prebuilt binary at install time, exllamav2's builds carry only a
CUDA label, and both declare a bare ``torch``. Their releases are nonetheless built against the
torch of their day. The index says what that day was: PEP 700 JSON pages give every file's
``upload-time``. A torch minor's *era* runs from the first upload of its first release to the
first upload of the next minor; an extension release uploaded within it was built for that
minor (its builders make wheels for the newest torch, often for older ones too), and the
extension releases uploaded within the installed torch's era are the ones built for it.

Only final releases count; a release's time is the earliest upload among its files that are
not yanked. Pages without upload times (PEP 503 HTML, a ``file://`` index without them) give
no eras, and no finding is then drawn from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from packaging.version import InvalidVersion, Version

from envdoctor.env import index
from envdoctor.surface.bisect import release_files


@dataclass(frozen=True)
class Era:
    """The span in which minor line ``minor`` (``2.3``) of a library was its newest."""

    minor: Version
    start: datetime
    end: datetime | None  # the next minor's first upload (None: the newest line)

    def holds(self, when: datetime) -> bool:
        """Whether ``when`` lies within this era."""
        return self.start <= when and (self.end is None or when < self.end)

    @property
    def spec(self) -> str:
        """The specifier of this minor line's releases: ``>=2.3.0,<2.4``."""
        return f">={self.minor.major}.{self.minor.minor}.0,<{self.minor.major}.{self.minor.minor + 1}"

    def describe(self) -> str:
        """``2.3 (2024-04-24 to 2024-07-24)``, for messages."""
        until = f" to {self.end:%Y-%m-%d}" if self.end else " on"
        return f"{self.minor} ({self.start:%Y-%m-%d}{until})"


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _final(text: str) -> Version | None:
    try:
        version = Version(text)
    except InvalidVersion:
        return None
    return None if version.is_prerelease or version.is_devrelease else version


def first_uploads(files: dict[str, list[index.IndexFile]]) -> dict[Version, datetime]:
    """Final release -> the earliest upload time among its files that are not yanked (releases
    with no upload time left out)."""
    found: dict[Version, datetime] = {}
    for text, items in files.items():
        version = _final(text)
        times = [t for item in items if not item.yanked and (t := _when(item.upload_time)) is not None]
        if version is not None and times:
            found[version] = min(times)
    return found


def eras_of(uploads: dict[Version, datetime]) -> list[Era]:
    """The minor lines of a release history, in the order they were first uploaded."""
    starts: dict[Version, datetime] = {}
    for version, when in uploads.items():
        minor = Version(f"{version.major}.{version.minor}")
        if minor not in starts or when < starts[minor]:
            starts[minor] = when
    ordered = sorted(starts.items(), key=lambda item: item[1])
    return [Era(minor, start, ordered[i + 1][1] if i + 1 < len(ordered) else None)
            for i, (minor, start) in enumerate(ordered)]


def era_at(eras: list[Era], when: datetime) -> Era | None:
    """The era holding ``when`` (None before the first)."""
    return next((era for era in eras if era.holds(when)), None)


def era_of(eras: list[Era], version: Version) -> Era | None:
    """The era of ``version``'s minor line."""
    return next((era for era in eras if (era.minor.major, era.minor.minor) == (version.major, version.minor)), None)


@dataclass(frozen=True)
class BuildEras:
    """A library's eras and an extension's upload times, read from the index."""

    library: str
    eras: list[Era]
    uploads: dict[Version, datetime]  # the extension's final releases

    @classmethod
    def read(cls, library: str, extension: str, urls: tuple[str, ...]) -> BuildEras | None:
        """Both release histories from the first index listing each; None when either has no upload times."""
        eras = eras_of(first_uploads(release_files(library, urls)))
        uploads = first_uploads(release_files(extension, urls))
        return cls(library, eras, uploads) if eras and uploads else None

    def built_for(self, version: Version) -> Era | None:
        """The library era ``version`` of the extension was uploaded in (None: not on the index)."""
        when = self.uploads.get(Version(version.public))
        return era_at(self.eras, when) if when else None

    def released_within(self, era: Era) -> list[Version]:
        """The extension's final releases uploaded within ``era``, oldest first."""
        return sorted(v for v, when in self.uploads.items() if era.holds(when))
