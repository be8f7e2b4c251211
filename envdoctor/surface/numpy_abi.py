"""Which NumPy a compiled distribution was built against, read from its own binaries.

An extension that uses NumPy's C API calls ``import_array()``, and the headers it was compiled
with embed the module that call imports.  NumPy 1.x headers (1.16 on) import
``numpy.core._multiarray_umath``; NumPy 2.x headers import ``numpy._core._multiarray_umath``
first and fall back to the 1.x name, so a NumPy 2 build loads under both
(``numpy/_core/code_generators/generate_numpy_api.py`` at v2.0.0).  A build against 1.x cannot
load under NumPy 2: "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x"
(https://numpy.org/devdocs/dev/depending_on_numpy.html#numpy-2-abi-handling).  So a binary that
spells only the 1.x name was built for NumPy 1.  Checked on real wheels: pandas 2.1.4's
extensions spell only the 1.x name, pandas 2.2.2's (the first built for NumPy 2) both.

Nothing is loaded or run: the binaries are searched as bytes, installed ones from disk, a
release's from its wheel on the index by range requests; answers are cached per file set.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor.env.snapshot import Snapshot
from envdoctor.surface import diskcache

NUMPY2_MARK = b"numpy._core._multiarray_umath"
NUMPY1_MARK = b"numpy.core._multiarray_umath"
BINARY_SUFFIXES = (".so", ".pyd", ".dylib")
MAX_BINARY_BYTES = 128 * 1024 * 1024  # larger libraries (libtorch_cuda.so) hold kernels, not the Python binding
MAX_RELEASE_BYTES = 256 * 1024 * 1024  # of one release's binaries read from the index before it counts as unknown
SCAN_BUDGET_S = 20.0  # a file target's releases read from the index for one check
CACHE_VERSION = 1

if TYPE_CHECKING:
    from envdoctor.env.index import IndexFile


def header_major(data: bytes) -> int | None:
    """2 when a binary was compiled with NumPy 2 headers, 1 with NumPy 1 headers (1.16 on), None when
    it does not use NumPy's C API.  (A release's answer is 0 when none of its binaries does.)"""
    if NUMPY2_MARK in data:
        return 2
    return 1 if NUMPY1_MARK in data else None


def python_abi(tags: Iterable[str]) -> bool:
    """Whether wheel tags (``cp311-cp311-manylinux_2_17_x86_64``) name a Python ABI: a wheel tagged
    ``none`` (the nvidia-* libraries) has no CPython extension, and NumPy's C API needs one."""
    return any(len(parts) == 3 and parts[1] != "none" for parts in (tag.split("-") for tag in tags))


def _wheel_tags(filename: str) -> list[str]:
    """A wheel file name's tags (``cp311-cp311-linux_x86_64``); none for a name that is not a wheel's."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        return [str(tag) for tag in parse_wheel_filename(filename)[3]]
    except InvalidWheelFilename:
        return []


def binaries(paths: Iterable[str]) -> list[str]:
    """The compiled modules and shared libraries among a release's files."""
    return [p for p in paths if p.endswith(BINARY_SUFFIXES) or ".so." in p.rsplit("/", 1)[-1]]


def reading_order(sizes: dict[str, int]) -> list[str]:
    """Binaries in the order they are read: Python extension modules first (they or a library they
    bind hold the NumPy calls), then the other libraries, smallest first; the first one that uses
    NumPy's C API answers for the release (one build uses one NumPy's headers)."""
    def extension(path: str) -> bool:
        name = path.rsplit("/", 1)[-1]
        return ".cpython-" in name or ".abi3." in name or name.endswith(".pyd") or "python" in name.lower()

    return sorted((p for p, size in sizes.items() if size <= MAX_BINARY_BYTES),
                  key=lambda p: (not extension(p), sizes[p], p))


def _cached(name: str, version: str, key: str) -> tuple[Path, int | None, bool]:
    path = diskcache.cache_root() / "numpy-abi" / diskcache.safe_name(f"{name}-{version}-{key}.json")
    data = diskcache.read_json(path)
    if isinstance(data, dict) and data.get("version") == CACHE_VERSION:
        major = data.get("major")
        return path, major if major in (0, 1, 2) else None, True
    return path, None, False


def installed_major(name: str, version: str, dist_info: Path) -> int | None:
    """What an installed distribution's binaries were built against (a wheel for no Python ABI is
    not read; the answer is cached by the RECORD's size and mtime)."""
    try:
        tags = [line.split(":", 1)[1].strip() for line in (dist_info / "WHEEL").read_text(
            encoding="utf-8", errors="replace").splitlines() if line.startswith("Tag:")]
        record = (dist_info / "RECORD").stat()
    except OSError:
        return None
    if not python_abi(tags):
        return None
    path, major, known = _cached(name, version, f"record-{record.st_size}-{record.st_mtime_ns}")
    if known:
        return major
    from envdoctor.surface.sources import InstalledSource, SourceError  # only when not cached

    try:
        source = InstalledSource(name, version, dist_info)
    except SourceError:
        return None
    sizes = {}
    for member in binaries(source.files()):
        try:
            sizes[member] = (source.root / member).stat().st_size
        except OSError:
            continue
    major = 0
    for member in reading_order(sizes):
        try:
            major = header_major((source.root / member).read_bytes()) or 0
        except OSError:
            continue
        if major:
            break
    diskcache.write_json(path, {"version": CACHE_VERSION, "major": major})
    return major


def release_major(name: str, version: str, files: list[IndexFile], deadline: float | None = None) -> int | None:
    """What a release's binaries were built against, from its first wheel for a Python ABI on the index
    (the platforms' builds of one release share their NumPy); None for a release without one, or unread."""
    wheel = next((f for f in files if f.filename.endswith(".whl") and python_abi(_wheel_tags(f.filename))
                  and not f.yanked), None)
    if wheel is None:
        return None
    key = "wheel-" + hashlib.sha256(wheel.filename.encode()).hexdigest()[:20]
    path, major, known = _cached(name, version, key)
    if known:
        return major
    from envdoctor.surface.sources import SourceError, WheelSource

    source = WheelSource(name, version, wheel.url, wheel.filename)
    major, read = 0, 0
    try:
        archive = source.open_zip()
        sizes = {p: archive.getinfo(p).file_size for p in binaries(source.files())}
        for member in reading_order(sizes):
            read += sizes[member]
            if (deadline is not None and time.monotonic() > deadline) or read > MAX_RELEASE_BYTES:
                return None  # not kept: read again next time
            data = source.read(member, MAX_BINARY_BYTES)
            if data is None and source.problem:
                return None
            major = header_major(data or b"") or 0
            if major:
                break
    except SourceError:
        return None
    diskcache.write_json(path, {"version": CACHE_VERSION, "major": major})
    return major


def numpy1_builds(snap: Snapshot, offline: bool = False, budget_s: float = SCAN_BUDGET_S) -> dict[str, str]:
    """{name: version} of the target's distributions built against NumPy 1 (numpy itself aside):
    installed ones read from disk, a file's pins from their wheels on the index within ``budget_s``
    (offline: a file's pins are not read)."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + budget_s
    if snap.source.startswith("file:"):  # the index's modules load only for a file target
        from envdoctor.env import fetch, pipconfig
        from envdoctor.surface import bisect

        urls = pipconfig.read().urls
    for dist in sorted(snap.distributions.values(), key=lambda d: (bool(d.implied_by), d.name)):  # listed first
        if dist.name == "numpy":
            continue
        if not snap.source.startswith("file:"):
            major = installed_major(dist.name, dist.version, Path(dist.location)) if dist.location else None
        elif offline or time.monotonic() > deadline:
            continue
        else:
            try:
                files = bisect.release_files(dist.name, urls).get(dist.version, [])
            except (fetch.FetchError, fetch.NotFound, OSError):
                continue
            major = release_major(dist.name, dist.version, files, deadline)
        if major == 1:
            found[dist.name] = dist.version
    return found


def first_numpy2_build(name: str, after: str | None, deadline: float | None = None) -> str | None:
    """The first release of ``name`` after ``after`` (None: any) built for NumPy 2 (:func:`bisect.first_true`
    over its releases on the index); None when none is, or it cannot be told in time."""
    from envdoctor.env import fetch, pipconfig
    from envdoctor.surface import bisect

    try:
        files = bisect.release_files(name, pipconfig.read().urls)
    except (fetch.FetchError, fetch.NotFound, OSError):
        return None
    versions = bisect.later(bisect.usable_versions(files), after)
    if not versions:
        return None

    def numpy2(i: int) -> bool | None:
        if deadline is not None and time.monotonic() > deadline:
            return None
        major = release_major(name, versions[i], files[versions[i]], deadline)
        return None if major is None else major == 2

    return bisect.first_true(versions, numpy2)
