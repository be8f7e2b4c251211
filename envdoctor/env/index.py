"""Fill in the declared requirements of a lock file's pins from the package index.

For each ``name==version`` pin whose metadata is unknown, this asks the indexes
pip is configured with (:mod:`envdoctor.env.pipconfig`) for the project's files
through the simple API (PEP 691 JSON, else PEP 503 HTML; ``file://`` indexes
too), picks a file of that exact version (a wheel for the target's Python and
platform when there is one), and reads only its core metadata: the PEP 658/714
``.metadata`` file, else the wheel's ``*.dist-info/METADATA`` member through
HTTP range requests (or straight from a local wheel; see :mod:`envdoctor.env.fetch`) — never a whole wheel.
Results are cached on disk; ``--offline`` reads the cache only.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from packaging import tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from envdoctor.env import cache, fetch, pipconfig
from envdoctor.env.lockfile import index_options
from envdoctor.env.probe import canonical_name, parse_metadata_text
from envdoctor.env.snapshot import Distribution, Snapshot
from envdoctor.errors import InputError
from envdoctor.findings import brief_list

WORKERS = 8
PAGE_TTL_S = 600  # a project page is read again after this: it changes only when a release is uploaded
ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
          "text/html;q=0.01")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
METADATA_KEYS = ("core-metadata", "dist-info-metadata", "data-core-metadata", "data-dist-info-metadata")


@dataclass(frozen=True)
class IndexFile:
    """One file listed on a project page."""

    filename: str
    url: str
    metadata: bool | str  # False, True, or "sha256=<hex>" to verify against
    yanked: bool = False
    requires_python: str | None = None  # the page's data-requires-python / "requires-python"
    hashes: tuple[str, ...] = ()  # "sha256:<hex>" as the page lists them (JSON hashes or a #sha256= fragment)
    upload_time: str | None = None  # PEP 700 "upload-time" (ISO 8601, UTC) of a JSON page; HTML pages have none

    def version(self) -> Version | None:
        """The release this file belongs to, from its wheel or sdist name (None when it is neither)."""
        try:
            return (parse_wheel_filename(self.filename)[1] if self.filename.endswith(".whl")
                    else parse_sdist_filename(self.filename)[1])
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            return None


@dataclass(frozen=True)
class Metadata:
    """The fields of a pin's core metadata that rules read."""

    requires: tuple[str, ...]
    requires_python: str | None
    source: str  # the file it was read from

    def to_json(self) -> dict[str, object]:
        """The cache file's content."""
        return {"requires": list(self.requires), "requires_python": self.requires_python, "source": self.source}


@dataclass(frozen=True)
class MetadataLookup:
    """What fetching one pin's metadata gave: metadata, or a reason in ``problem``."""

    name: str
    version: str
    metadata: Metadata | None = None
    problem: str | None = None
    not_on_index: bool = False
    sdist_only: bool = False  # the release's file is an sdist without a metadata file: known only once built


@dataclass
class _Progress:
    """``fetching metadata 12/40`` on a TTY's stderr; silent otherwise."""

    total: int
    enabled: bool
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    label: str = "fetching metadata"

    def step(self) -> None:
        with self.lock:
            self.done += 1
            if self.enabled:
                sys.stderr.write(f"\r{self.label} {self.done}/{self.total}")
                sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.total:
            sys.stderr.write("\r" + " " * 40 + "\r")
            sys.stderr.flush()


# --- cache -----------------------------------------------------------------------------------

def cache_dir() -> Path:
    """``$ENVDOCTOR_CACHE_DIR/metadata``, else ``$XDG_CACHE_HOME/envdoctor/metadata`` (~/.cache)."""
    return cache.cache_root() / "metadata"


def _cache_path(name: str, version: str) -> Path:
    return cache_dir() / f"{name}-{version.replace('/', '_')}.json"


def cache_read(name: str, version: str) -> Metadata | None:
    """Cached metadata of ``name==version``, or None (a corrupt entry counts as absent)."""
    try:
        data = json.loads(_cache_path(name, version).read_text(encoding="utf-8"))
        meta = Metadata(requires=tuple(data["requires"]), requires_python=data["requires_python"],
                        source=data["source"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if is_variant(version) and "+" not in meta.source:
        return None  # written by envdoctor < 0.3 from the public build's file: another build
    return meta


def cache_write(name: str, version: str, meta: Metadata) -> None:
    """Store ``meta`` atomically; a read-only cache is not an error."""
    path = _cache_path(name, version)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(meta.to_json(), sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def requires_of(name: str, version: str, config: pipconfig.IndexConfig) -> tuple[str, ...] | None:
    """The Requires-Dist lines of ``name==version`` from the metadata cache, else the index (then
    cached); None when no index has its metadata."""
    cached = cache_read(name, version)
    if cached is not None:
        return cached.requires
    lookup = fetch_one(name, version, config, {})
    if lookup.metadata is None:
        return None
    cache_write(name, version, lookup.metadata)
    return lookup.metadata.requires


# --- simple API ------------------------------------------------------------------------------

class _LinkParser(HTMLParser):
    """Anchors of a PEP 503 project page, with their data-* attributes."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.files: list[IndexFile] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "base" and values.get("href"):
            self.base = urljoin(self.base, values["href"] or "")
        if tag != "a" or not values.get("href"):
            return
        url = urljoin(self.base, values["href"] or "")
        filename = urlsplit(url).path.rsplit("/", 1)[-1]
        marker = next((values[k] for k in METADATA_KEYS if k in values), None)
        metadata: bool | str = False if marker is None or marker == "false" else (
            marker if marker and "=" in marker else True)
        fragment = urlsplit(url).fragment
        digest = (fragment.replace("=", ":", 1),) if fragment.startswith("sha256=") else ()
        self.files.append(IndexFile(filename=filename, url=url, metadata=metadata,
                                    yanked="data-yanked" in values, hashes=digest,
                                    requires_python=values.get("data-requires-python") or None))


def _json_files(doc: dict, page: str) -> list[IndexFile]:
    files = []
    for item in doc.get("files", []):
        marker = next((item[k] for k in METADATA_KEYS if k in item), False)
        if isinstance(marker, dict):
            marker = f"sha256={marker['sha256']}" if "sha256" in marker else bool(marker)
        files.append(IndexFile(filename=item["filename"], url=urljoin(page, item["url"]),
                               metadata=bool(marker) if not isinstance(marker, str) else marker,
                               yanked=bool(item.get("yanked")),
                               requires_python=item.get("requires-python") or None,
                               hashes=tuple(f"{k}:{v}" for k, v in sorted((item.get("hashes") or {}).items())
                                            if k == "sha256"),
                               upload_time=item.get("upload-time") if isinstance(item.get("upload-time"), str)
                               else None))
    return files


_valid_until: list[float] = []  # when each page this process read is next read afresh


def pages_valid_until() -> float | None:
    """When the first index page this process read will be read again by a new run (a cached page
    at its :data:`PAGE_TTL_S`, an uncached one now); None when no page was read."""
    return min(_valid_until, default=None)


def _page_path(page: str) -> Path:
    return cache.cache_root() / "pages" / f"{hashlib.sha256(page.encode()).hexdigest()[:32]}.json"


def _cached_page(page: str) -> list[IndexFile] | None:
    """A project page read within :data:`PAGE_TTL_S` (repeated checks do not ask the index again)."""
    path = _page_path(page)
    try:
        written = path.stat().st_mtime
        if time.time() - written > PAGE_TTL_S:
            return None
        rows = json.loads(path.read_text(encoding="utf-8"))
        files = [IndexFile(r[0], r[1], r[2], r[3], r[4], tuple(r[5]), r[6]) for r in rows]
        _valid_until.append(written + PAGE_TTL_S)
        return files
    except (OSError, ValueError, TypeError, IndexError):
        return None


def _keep_page(page: str, files: list[IndexFile]) -> None:
    """Store a page's files atomically: only an index's over HTTP(S) (a local one is as quick to read
    again), and never one read with credentials (its URLs may carry them)."""
    parts = urlsplit(page)
    if parts.scheme not in ("http", "https") or "@" in parts.netloc:
        _valid_until.append(time.time())  # read again by the next run
        return
    _valid_until.append(time.time() + PAGE_TTL_S)
    path = _page_path(page)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps([[f.filename, f.url, f.metadata, f.yanked, f.requires_python, list(f.hashes),
                                    f.upload_time]
                                   for f in files]), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def project_files(index_url: str, name: str) -> list[IndexFile]:
    """Files of project ``name`` on one index (PEP 691 JSON, else PEP 503 HTML); a page read in the
    last :data:`PAGE_TTL_S` seconds comes from the cache."""
    page = index_url.rstrip("/") + "/" + canonical_name(name) + "/"
    kept = _cached_page(page)
    if kept is not None:
        return kept
    body, content_type, _ = fetch.get(page, {"Accept": ACCEPT})
    if content_type.split(";")[0].strip() == JSON_TYPE:
        try:
            files = _json_files(json.loads(body), page)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise fetch.FetchError(f"{pipconfig.redact(page)}: malformed JSON project page ({exc})")
    else:
        parser = _LinkParser(page)
        parser.feed(body.decode("utf-8", errors="replace"))
        files = parser.files
    _keep_page(page, files)
    return files


def _file_project(filename: str) -> str | None:
    """The canonical project name of a wheel or sdist file name, or None."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def find_links_files(location: str, name: str) -> list[IndexFile]:
    """Files of project ``name`` at a ``--find-links`` location: a local folder (path or ``file:``
    URL) listed directly, else an HTML page of links, as pip reads them."""
    _valid_until.append(time.time())  # never cached: the next run reads it again
    folder = fetch.local_path(location) if location.startswith("file:") else (
        None if "://" in location else Path(location))
    if folder is not None and folder.is_dir():
        items = [IndexFile(filename=p.name, url=p.resolve().as_uri(), metadata=False)
                 for p in sorted(folder.iterdir()) if p.is_file()]
    else:
        body, _, _ = fetch.get(location if "://" in location else Path(location).resolve().as_uri())
        parser = _LinkParser(location)
        parser.feed(body.decode("utf-8", errors="replace"))
        items = parser.files
    wanted = canonical_name(name)
    return [item for item in items if _file_project(item.filename) == wanted]


def source_files(source: str, name: str, config: pipconfig.IndexConfig) -> list[IndexFile]:
    """Files of ``name`` at one of ``config.sources``: an index's project page or a find-links location."""
    return find_links_files(source, name) if source in config.find_links else project_files(source, name)


def target_tags(snap: Snapshot) -> list[tags.Tag]:
    """Wheel tags the target accepts, best first (CPython on the snapshot's platform)."""
    return tags_for(snap.python_version, snap.system, snap.machine)


def tags_for(python_version: str, system: str, machine: str) -> list[tags.Tag]:
    """Wheel tags CPython ``python_version`` accepts on ``system``/``machine``, best first."""
    major, minor = (int(p) for p in python_version.split(".")[:2])
    arch = machine.lower()
    if system == "Linux":
        platforms = [f"manylinux_2_{glibc}_{arch}" for glibc in range(40, 16, -1)]
        platforms += [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}",
                      f"musllinux_1_2_{arch}", f"linux_{arch}"]
    elif system == "Darwin":
        platforms = list(tags.mac_platforms((14, 0), "arm64" if arch in ("arm64", "aarch64") else "x86_64"))
    elif system == "Windows":
        platforms = ["win_arm64" if arch == "arm64" else "win_amd64"]
    else:
        platforms = []
    return [*tags.cpython_tags((major, minor), platforms=platforms),
            *tags.compatible_tags((major, minor), platforms=platforms)]


def ranking_of(accepted: list[tags.Tag]) -> dict[tags.Tag, int]:
    """Each tag of ``accepted`` (best first) and its rank (0 = best)."""
    ranking: dict[tags.Tag, int] = {}
    for rank, tag in enumerate(accepted):
        ranking.setdefault(tag, rank)
    return ranking


def pick_file(files: Iterable[IndexFile], version: str, ranking: dict[tags.Tag, int]) -> IndexFile | None:
    """The best file of exactly ``version``: a compatible wheel, else any wheel, else an sdist.

    Files with a metadata file beat those without; yanked files come last.
    """
    wanted = Version(version)
    best: tuple[tuple[int, int, int], IndexFile] | None = None
    for item in files:
        try:
            if item.filename.endswith(".whl"):
                _, file_version, _, file_tags = parse_wheel_filename(item.filename)
                rank = min((ranking.get(t, len(ranking)) for t in file_tags), default=len(ranking))
            else:
                _, file_version = parse_sdist_filename(item.filename)
                rank = len(ranking) + 1
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if file_version != wanted:
            continue
        key = (int(item.yanked), int(not item.metadata), rank)
        if best is None or key < best[0]:
            best = (key, item)
    return best[1] if best else None


def _read_metadata_of(item: IndexFile) -> str:
    """Core-metadata text of ``item``: its metadata file, else the wheel's member."""
    if item.metadata:
        url = item.url.split("#", 1)[0] + ".metadata"
        body, _, _ = fetch.get(url)
        declared = item.metadata if isinstance(item.metadata, str) else ""
        wanted = declared.split("=", 1)[1] if declared.startswith("sha256=") else None
        if wanted is not None and hashlib.sha256(body).hexdigest() != wanted:
            raise fetch.FetchError(f"{item.filename}.metadata: sha256 does not match the index's hash")
        return body.decode("utf-8")
    if item.filename.endswith(".whl"):
        return fetch.metadata_from_wheel(item.url.split("#", 1)[0])
    raise fetch.FetchError(f"{item.filename}: the index offers no metadata file for this sdist")


def fetch_one(name: str, version: str, config: pipconfig.IndexConfig, ranking: dict[tags.Tag, int],
              unreachable: dict[str, str] | None = None) -> MetadataLookup:
    """Metadata of ``name==version`` from the first index (or find-links location) listing that version.

    Sources in ``unreachable`` are skipped, and one that cannot be reached is added to it,
    so a dead index costs one timeout per run rather than one per pin.
    """
    unreachable = {} if unreachable is None else unreachable
    searched, errors = [], []
    for index_url in config.sources:
        if index_url in unreachable:
            errors.append(f"{pipconfig.redact(index_url)} is unreachable ({unreachable[index_url]})")
            continue
        try:
            item = pick_file(source_files(index_url, name, config), version, ranking)
        except fetch.NotFound:
            item = None
        except fetch.FetchError as exc:
            if exc.unreachable:
                unreachable.setdefault(index_url, exc.reason)
                errors.append(f"{pipconfig.redact(index_url)} is unreachable ({exc.reason})")
            else:
                errors.append(str(exc))
            continue
        searched.append(pipconfig.redact(index_url))
        if item is None:
            continue
        try:
            text = _read_metadata_of(item)
        except (fetch.FetchError, fetch.NotFound, UnicodeDecodeError) as exc:
            return MetadataLookup(name, version, problem=f"{item.filename}: no metadata ({exc or 'not found'})",
                                  sdist_only=not item.metadata and not item.filename.endswith(".whl"))
        parsed = parse_metadata_text(text)
        if parsed is None:
            return MetadataLookup(name, version, problem=f"{item.filename}: metadata has no Name/Version")
        _, _, requires, requires_python = parsed
        return MetadataLookup(name, version, Metadata(tuple(requires), requires_python, item.filename))
    if errors:
        return MetadataLookup(name, version, problem="; ".join(errors))
    return MetadataLookup(name, version, problem=f"no {name}=={version} on {', '.join(searched) or 'any index'}",
                          not_on_index=True)


def fetch_all(pins: list[tuple[str, str]], config: pipconfig.IndexConfig, ranking: dict[tags.Tag, int],
              on_done: Callable[[], None] = lambda: None,
              unreachable: dict[str, str] | None = None) -> list[MetadataLookup]:
    """Fetch every pin's metadata with a pool of :data:`WORKERS` threads, in input order."""
    unreachable = {} if unreachable is None else unreachable

    def task(pin: tuple[str, str]) -> MetadataLookup:
        name, version = pin
        try:
            Version(version)
            # A build variant (2.11.0+cu128) is read only where an index serves that very build: the
            # public 2.11.0 is another build with other requirements (CUDA 13 wheels, not CUDA 12.8).
            return fetch_one(name, version, config, ranking, unreachable)
        except InvalidVersion:
            return MetadataLookup(name, version, problem="not a PEP 440 version")
        finally:
            on_done()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(task, pins))


def is_variant(version: str) -> bool:
    """Whether ``version`` carries a local label (``+cu128``, ``+cpu``, ``+rocm6.2``): another build."""
    try:
        return Version(version).local is not None
    except InvalidVersion:
        return False


def variant_note(pins: list[str], config: pipconfig.IndexConfig) -> str:
    """Why build variants that no configured index serves keep their requirements unchecked."""
    where = ", ".join(pipconfig.redact(u) for u in config.sources) or "no index"
    return (f"build variants that no configured index serves ({where}): {brief_list(pins)}; their declared "
            "requirements are not checked (the public release of the same version is another build), they "
            "are judged by their labels and the knowledge base; add the index that serves them "
            "(--extra-index-url or --find-links, in the file or pip's config) to check them")


# --- releases (for the fix search) -------------------------------------------------------------

class IndexSearch:
    """The releases of projects on the configured indexes and their metadata, for one run.

    Project pages are read once per run; metadata comes from the cache, else the index
    (and is cached).  Progress shows on a terminal's stderr unless ``quiet``.
    """

    def __init__(self, config: pipconfig.IndexConfig, ranking: dict[tags.Tag, int], quiet: bool) -> None:
        self.config = config
        self.ranking = ranking
        self.unreachable: dict[str, str] = {}
        self.pages: dict[tuple[str, str], list[IndexFile]] = {}
        self.progress = _Progress(total=0, enabled=not quiet and sys.stderr.isatty(), label="searching releases")

    @classmethod
    def for_snapshot(cls, snap: Snapshot, quiet: bool) -> IndexSearch:
        """A search over the indexes the target's pip (and its lock file's options) uses."""
        return cls(index_config(snap), tag_ranking(snap), quiet)

    @property
    def searched(self) -> tuple[str, ...]:
        """The indexes searched, passwords redacted."""
        return tuple(pipconfig.redact(u) for u in self.config.sources)

    def _files(self, name: str) -> list[IndexFile]:
        found: list[IndexFile] = []
        for url in self.config.sources:
            key = (url, name)
            if key not in self.pages:
                try:
                    self.pages[key] = source_files(url, name, self.config)
                except fetch.NotFound:
                    self.pages[key] = []
                except fetch.FetchError as exc:
                    self.unreachable.setdefault(url, exc.reason)
                    self.pages[key] = []
            found += self.pages[key]
        return found

    def releases(self, name: str) -> list[Version]:
        """Versions of ``name`` with a file the target can install (a compatible wheel or an sdist), not yanked."""
        versions: set[Version] = set()
        for item in self._files(name):
            if item.yanked:
                continue
            try:
                if item.filename.endswith(".whl"):
                    _, version, _, file_tags = parse_wheel_filename(item.filename)
                    if not any(t in self.ranking for t in file_tags):
                        continue
                else:
                    _, version = parse_sdist_filename(item.filename)
            except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
                continue
            versions.add(version)
        return sorted(versions)

    def metadata(self, name: str, versions: list[str]) -> list[MetadataLookup]:
        """Metadata of ``name`` at each of ``versions`` (cache first), in order."""
        cached = {v: cache_read(name, v) for v in versions}
        missing = [v for v in versions if cached[v] is None]
        self.progress.total += len(missing)
        fetched = {o.version: o for o in fetch_all([(name, v) for v in missing], self.config,
                                                  self.ranking, self.progress.step, self.unreachable)}
        results = []
        for version in versions:
            meta = cached[version]
            if meta is not None:
                results.append(MetadataLookup(name, version, meta))
                continue
            outcome = fetched[version]
            if outcome.metadata is not None:
                cache_write(name, version, outcome.metadata)
            results.append(outcome)
        return results

    def close(self) -> None:
        """Clear the progress line."""
        self.progress.close()


# --- entry point -----------------------------------------------------------------------------

def _with_metadata(dist: Distribution, meta: Metadata) -> Distribution:
    return replace(dist, requires=meta.requires, requires_python=meta.requires_python, metadata_known=True)


def index_config(snap: Snapshot) -> pipconfig.IndexConfig:
    """pip's configured indexes, with the lock file's own index options applied."""
    config = pipconfig.read()
    path = Path(snap.source.removeprefix("file:"))
    if not snap.source.startswith("file:") or not path.is_file():
        return config
    try:
        index_url, extras, no_index, links = index_options(path)
        return pipconfig.with_lock_options(config, index_url, extras, no_index, str(path), links)
    except InputError:
        return config


def tag_ranking(snap: Snapshot) -> dict[tags.Tag, int]:
    """Each wheel tag the target accepts and its rank (0 = best)."""
    return ranking_of(target_tags(snap))


def _fetch(snap: Snapshot, dists: dict[str, Distribution], missing: list[str], quiet: bool,
           not_on_index: dict[str, str]) -> list[str]:
    """Fetch ``missing`` pins into ``dists`` (and the cache); return notes on what stayed unknown."""
    config = index_config(snap)
    if not config.sources:
        return [f"pip is configured with --no-index ({config.origin}): metadata for {len(missing)} pinned "
                "packages not fetched; declared requirements not checked for them"]
    progress = _Progress(total=len(missing), enabled=not quiet and sys.stderr.isatty())
    try:
        outcomes = fetch_all([(n, dists[n].version) for n in missing], config, tag_ranking(snap),
                             progress.step)
    finally:
        progress.close()
    notes: list[str] = []
    failures: dict[str, list[str]] = {}  # one note per distinct problem, not per pin
    variants: list[str] = []
    absent: list[str] = []  # implied pins the indexes do not list: one note, not one per pin
    for outcome in outcomes:
        if outcome.metadata is not None:
            cache_write(outcome.name, outcome.version, outcome.metadata)
            dists[outcome.name] = _with_metadata(dists[outcome.name], outcome.metadata)
        elif outcome.not_on_index and is_variant(outcome.version):
            variants.append(f"{outcome.name} {outcome.version}")
        elif outcome.not_on_index:
            not_on_index[outcome.name] = outcome.version
            if dists[outcome.name].implied_by:
                absent.append(f"{outcome.name}=={outcome.version}")
            else:
                notes.append(f"{outcome.problem}; declared requirements not checked for it")
        else:
            failures.setdefault(outcome.problem or "?", []).append(f"{outcome.name}=={outcome.version}")
    if variants:
        notes.append(variant_note(variants, config))
    if absent:
        notes.append(f"implied packages no configured index lists: {brief_list(absent)}; what they require "
                     "is not inferred")
    for problem, pins in failures.items():
        shown = ", ".join(pins[:5]) + (f" and {len(pins) - 5} more" if len(pins) > 5 else "")
        notes.append(f"metadata unknown for {shown}: {problem}; declared requirements not checked for "
                     f"{'it' if len(pins) == 1 else 'them'}")
    return notes


def fill_metadata(snap: Snapshot, offline: bool, quiet: bool, names: Collection[str] | None = None) -> Snapshot:
    """Return ``snap`` with Requires-Dist/Requires-Python filled for pins whose metadata is unknown
    (only those in ``names`` when given).

    Reads the cache first; unless ``offline``, fetches the rest from the
    configured indexes (progress on a terminal's stderr unless ``quiet``).
    Every pin left unknown is explained in the notes; pins the index does not
    list go to ``Snapshot.not_on_index`` (rule ED005).
    """
    dists = dict(snap.distributions)
    missing: list[str] = []
    wanted = set(dists) if names is None else set(names)
    for name in sorted(d.name for d in dists.values() if not d.metadata_known and d.name in wanted):
        cached = cache_read(name, dists[name].version)
        if cached is not None:
            dists[name] = _with_metadata(dists[name], cached)
        else:
            missing.append(name)
    notes = list(snap.notes)
    not_on_index = dict(snap.not_on_index)
    if missing and offline:
        what = "pinned" if names is None else "implied"
        notes.append(f"offline: metadata for {len(missing)} {what} packages not in the cache; declared "
                     f"requirements not checked for them ({brief_list(missing)}); run once online to fill "
                     f"the cache ({cache_dir()})")
    elif missing:
        notes += _fetch(snap, dists, missing, quiet, not_on_index)
    return snap.with_changes(distributions=dists, notes=tuple(notes), not_on_index=not_on_index)
