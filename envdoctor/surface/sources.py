"""The files of one release of a distribution, wherever they are.

- :class:`InstalledSource`: an installed distribution, its files listed by the ``RECORD`` of its
  ``*.dist-info`` (the live environment, ``--python``'s site-packages);
- :class:`WheelSource`: a wheel on a package index, read through HTTP range requests: the zip's
  end-of-central-directory and central directory first, then only the members asked for
  (a ``file:`` wheel is opened directly);
- :class:`SdistSource`: an sdist (``.tar.gz``), downloaded whole up to :data:`MAX_SDIST_BYTES`
  when the release has no wheel.

Every source has a ``key`` that changes whenever the files may: the RECORD's sha256 for an
installed distribution, the file name and size for an index file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
import io
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from envdoctor.env.probe import canonical_name

MAX_SDIST_BYTES = 40 * 1024 * 1024
MAX_WHEEL_BYTES = 80 * 1024 * 1024
MAX_MEMBER_BYTES = 8 * 1024 * 1024
LOCAL_EXTRA_SLACK = 1024  # bytes read past a member's name for its local extra field
NATIVE_SUFFIX = re.compile(r"\.(?:cpython-[^.]+|abi3|cp\d+-win[^.]*|pypy[^.]*)?\.?(?:so|pyd)$")


class SourceError(Exception):
    """A release's files could not be read; the message says which and why."""


class Source(Protocol):
    """The files of one release."""

    name: str
    version: str
    key: str

    def files(self) -> list[str]:
        """Paths of the release's files, relative to the import root (``pkg/mod.py``)."""

    def read(self, path: str) -> bytes | None:
        """The bytes of one file (None when it is absent or unreadable)."""

    def prefetch(self) -> None:
        """Get ready to read most files (one download instead of a request per file)."""

    def warm(self, paths: list[str]) -> None:
        """Get ready to read these files (few requests instead of one or more per file)."""


def module_files(paths: list[str]) -> dict[str, str]:
    """Module name -> its file (``.py``, else a ``.pyi`` stub, else ``native:`` for an extension)."""
    found: dict[str, str] = {}
    rank = {".py": 0, ".pyi": 1, "native": 2}
    chosen: dict[str, int] = {}
    for path in paths:
        if ".dist-info/" in path or ".data/" in path or ".egg-info/" in path or "__pycache__" in path:
            continue
        folder, _, filename = path.rpartition("/")
        if filename.endswith(".py"):
            suffix, stem = ".py", filename[:-3]
        elif filename.endswith(".pyi"):
            suffix, stem = ".pyi", filename[:-4]
        elif NATIVE_SUFFIX.search(filename):
            suffix, stem = "native", filename.split(".")[0]
        else:
            continue
        parts = (folder.split("/") if folder else []) + ([] if stem == "__init__" else [stem])
        if not parts or not all(p.isidentifier() for p in parts):
            continue
        module = ".".join(parts)
        if module not in chosen or rank[suffix] < chosen[module]:
            chosen[module] = rank[suffix]
            found[module] = path if suffix != "native" else f"native:{path}"
    return found


def shadowed_files(paths: list[str]) -> list[str]:
    """The ``.py`` files an extension module of the same name in the same folder shadows: the
    import system tries extension modules before source (``importlib.machinery.FileFinder``'s
    loader order), so such a file is the extension's source (Cython's pure-Python mode, mypyc),
    never what runs."""
    native = {(path.rpartition("/")[0], path.rpartition("/")[2].split(".")[0])
              for path in paths if NATIVE_SUFFIX.search(path.rpartition("/")[2])}
    return sorted(path for path in paths if path.endswith(".py")
                  and (path.rpartition("/")[0], path.rpartition("/")[2][:-3]) in native)


def is_package_file(path: str) -> bool:
    """Whether ``path`` is a package's ``__init__`` file."""
    return PurePosixPath(path).stem == "__init__"


@dataclass
class InstalledSource:
    """An installed distribution: ``dist_info`` is its ``*.dist-info`` folder."""

    name: str
    version: str
    dist_info: Path

    def __post_init__(self) -> None:
        try:
            self._record = (self.dist_info / "RECORD").read_bytes()
        except OSError as exc:
            raise SourceError(f"{self.dist_info}: no readable RECORD ({exc.strerror})")
        self.key = "record-" + hashlib.sha256(self._record).hexdigest()[:20]
        self.root = self.dist_info.parent

    def files(self) -> list[str]:
        text = self._record.decode("utf-8", errors="replace")
        return [line.rsplit(",", 2)[0].strip('"') for line in text.splitlines() if line.strip()]

    def read(self, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except OSError:
            return None

    def prefetch(self) -> None:
        """Installed files are local: nothing to do."""

    def warm(self, paths: list[str]) -> None:
        """Installed files are local: nothing to do."""


class WheelSource:
    """A wheel on an index (``http(s):``) or on disk (``file:``), opened on first use."""

    def __init__(self, name: str, version: str, url: str, filename: str) -> None:
        self.name, self.version, self.url, self.filename = name, version, url.split("#", 1)[0], filename
        self.key = "wheel-" + hashlib.sha256(filename.encode()).hexdigest()[:20]
        self._zip: zipfile.ZipFile | None = None
        self.problem: str | None = None  # why a member's read failed (answers from this source are not kept)

    def _open(self) -> zipfile.ZipFile:
        if self._zip is None:
            from envdoctor.env import fetch  # only index sources touch the network

            try:
                handle: io.RawIOBase | Path = (fetch.local_path(self.url) if self.url.startswith("file:")
                                               else fetch._RangeFile(self.url))
                self._zip = zipfile.ZipFile(handle)
            except (zipfile.BadZipFile, OSError, fetch.FetchError, fetch.NotFound) as exc:
                raise SourceError(f"{self.filename}: unreadable wheel ({exc})")
        return self._zip

    def files(self) -> list[str]:
        return self._open().namelist()

    def open_zip(self) -> zipfile.ZipFile:
        """The wheel's archive (its central directory read): members' sizes before any is read."""
        return self._open()

    def prefetch(self) -> None:
        """Download the whole wheel (at most :data:`MAX_WHEEL_BYTES`) when most members will be read."""
        if self.url.startswith("file:") or getattr(self, "_whole", False):
            return
        from envdoctor.env import fetch

        handle = getattr(self._open(), "fp", None)  # the range reader knows the archive's size
        if isinstance(handle, fetch._RangeFile) and handle.size > MAX_WHEEL_BYTES:
            raise SourceError(f"{self.filename}: larger than {MAX_WHEEL_BYTES >> 20} MiB; not read whole")
        try:
            body, _, _ = fetch.get(self.url)
        except (fetch.FetchError, fetch.NotFound) as exc:
            raise SourceError(f"{self.filename}: not downloaded ({exc})")
        if len(body) > MAX_WHEEL_BYTES:
            raise SourceError(f"{self.filename}: larger than {MAX_WHEEL_BYTES >> 20} MiB; not read whole")
        try:
            self._zip, self._whole = zipfile.ZipFile(io.BytesIO(body)), True
        except zipfile.BadZipFile as exc:
            raise SourceError(f"{self.filename}: unreadable wheel ({exc})")

    def warm(self, paths: list[str]) -> None:
        """Fetch these members of a remote wheel in a few merged range requests (best effort: a
        failure here leaves each member to be read on its own)."""
        if getattr(self, "_whole", False) or self.url.startswith("file:"):
            return
        from envdoctor.env import fetch

        archive = self._open()
        handle = archive.fp
        if not isinstance(handle, fetch._RangeFile):
            return
        spans = []
        for path in paths:
            try:
                info = archive.getinfo(path)
            except KeyError:
                continue
            if info.file_size <= MAX_MEMBER_BYTES:
                # the local header: 30 bytes, the name and an extra field the central one may not show
                start = info.header_offset
                spans.append((start, start + 30 + len(info.orig_filename.encode()) + LOCAL_EXTRA_SLACK
                              + info.compress_size))
        try:
            handle.fill(spans)
        except (fetch.FetchError, OSError):
            pass

    def read(self, path: str, limit: int = MAX_MEMBER_BYTES) -> bytes | None:
        """The member's bytes; None when the wheel lacks it, it is larger than ``limit``, or reading it
        failed (then :attr:`problem` says why: unlike an absent member, it may read next time)."""
        from envdoctor.env import fetch

        try:
            info = self._open().getinfo(path)
            if info.file_size > limit:
                return None
            self.warm([path])
            return self._open().read(info)
        except KeyError:
            return None
        except (zipfile.BadZipFile, OSError, SourceError, fetch.FetchError, fetch.NotFound) as exc:
            self.problem = f"{self.filename}: {path} not read ({exc})"
            return None


class SdistSource:
    """An sdist, downloaded whole (bounded) on first use; paths lose the top folder and ``src/``."""

    def __init__(self, name: str, version: str, url: str, filename: str) -> None:
        self.name, self.version, self.url, self.filename = name, version, url.split("#", 1)[0], filename
        self.key = "sdist-" + hashlib.sha256(filename.encode()).hexdigest()[:20]
        self._members: dict[str, bytes] | None = None

    def _load(self) -> dict[str, bytes]:
        if self._members is not None:
            return self._members
        if not self.filename.endswith((".tar.gz", ".tgz")):
            raise SourceError(f"{self.filename}: only .tar.gz sdists are read")
        from envdoctor.env import fetch

        try:
            body, _, _ = fetch.get(self.url)
        except (fetch.FetchError, fetch.NotFound) as exc:
            raise SourceError(f"{self.filename}: not downloaded ({exc})")
        if len(body) > MAX_SDIST_BYTES:
            raise SourceError(f"{self.filename}: larger than {MAX_SDIST_BYTES >> 20} MiB; not read")
        members: dict[str, bytes] = {}
        try:
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
                for info in archive:
                    if not info.isfile() or not info.name.endswith((".py", ".pyi")):
                        continue
                    parts = PurePosixPath(info.name).parts[1:]
                    if parts and parts[0] == "src":
                        parts = parts[1:]
                    handle = archive.extractfile(info)
                    if parts and handle is not None and info.size <= MAX_MEMBER_BYTES:
                        members["/".join(parts)] = handle.read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SourceError(f"{self.filename}: unreadable sdist ({exc})")
        self._members = members
        return members

    def files(self) -> list[str]:
        return list(self._load())

    def prefetch(self) -> None:
        """An sdist is always read whole."""
        self._load()

    def warm(self, paths: list[str]) -> None:
        """An sdist is always read whole."""
        self._load()

    def read(self, path: str) -> bytes | None:
        return self._load().get(path)


def dist_info_version(entry: Path) -> str:
    """The version a ``name-version.dist-info`` folder's name states."""
    return entry.name[:-len(".dist-info")].partition("-")[2]


def find_dist_info(name: str, site_packages: list[Path], version: str | None = None) -> Path | None:
    """The ``*.dist-info`` folder of ``name`` (of ``version`` when given) in the first folder that has one."""
    wanted = canonical_name(name)
    for entry in dist_infos(site_packages):
        dist, _, dist_version = entry.name[:-len(".dist-info")].partition("-")
        if canonical_name(dist) == wanted and (version is None or _same_version(dist_version, version)):
            return entry
    return None


def dist_infos(site_packages: list[Path]) -> Iterator[Path]:
    """Every ``*.dist-info`` folder, folder by folder in path order, sorted within each."""
    for folder in site_packages:
        try:
            entries = sorted(p for p in folder.iterdir() if p.name.endswith(".dist-info"))
        except OSError:
            continue
        yield from entries


def _same_version(left: str, right: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(left) == Version(right)
    except InvalidVersion:
        return left == right


def top_level_owners(site_packages: list[Path]) -> dict[str, str]:
    """Top-level import name -> the distribution that provides it, first folder first.

    Reads each ``*.dist-info``'s ``top_level.txt`` when present, else the first path parts
    of its ``RECORD`` (``pkg/__init__.py`` -> ``pkg``, ``mod.py`` -> ``mod``).
    """
    owners: dict[str, str] = {}
    for entry in dist_infos(site_packages):
        dist = canonical_name(entry.name[:-len(".dist-info")].partition("-")[0])
        names: set[str] = set()
        try:
            names = {n.strip() for n in (entry / "top_level.txt").read_text(encoding="utf-8").split() if n.strip()}
        except (OSError, UnicodeDecodeError):
            pass
        if not names:
            try:
                record = (entry / "RECORD").read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for line in record.splitlines():
                first = line.split(",", 1)[0].split("/", 1)
                top = first[0].removesuffix(".py") if len(first) == 1 and first[0].endswith(".py") else (
                    first[0] if len(first) > 1 else "")
                if top.isidentifier():
                    names.add(top)
        for name in sorted(names):
            owners.setdefault(name.replace("/", "."), dist)
    return owners
