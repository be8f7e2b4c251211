"""A real package index on 127.0.0.1 for the index tests: PEP 691 JSON and PEP 503 HTML pages,
real wheels (zip files with a ``*.dist-info/METADATA``), PEP 658 ``.metadata`` files, and HTTP
range requests; the server counts every request it answers."""

from __future__ import annotations

import html
import json
import random
import re
import threading
import zipfile
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "metadata"
BULK_BYTES = 300_000


def real_metadata(name: str, version: str) -> str:
    """The trimmed real METADATA committed under tests/fixtures/metadata/."""
    return (DATA / f"{name}-{version}.METADATA").read_text(encoding="utf-8")


def metadata_text(name: str, version: str, requires: list[str], requires_python: str | None = None) -> str:
    """Core metadata 2.1 headers plus a body, as build backends write it."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", "Summary: a test project"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n\nLong description. Requires-Dist: not-a-header\n"


@dataclass(frozen=True)
class Release:
    """One file of the index: a wheel (``tag`` like ``py3-none-any``) with its metadata, or an sdist
    (``tag="sdist"``: a ``.tar.gz`` the index offers no metadata for, as PyPI does for old sdists)."""

    name: str
    version: str
    metadata: str
    tag: str = "py3-none-any"
    metadata_file: bool = True  # publish the PEP 658 .metadata file beside the wheel
    bulk: int = BULK_BYTES  # bytes of incompressible payload (0 for indexes of hundreds of projects)
    yanked: bool = False


def build_sdist(folder: Path, release: Release) -> Path:
    """Write a real (empty) sdist archive named as build backends name it."""
    import tarfile

    stem = f"{canonicalize_name(release.name).replace('-', '_')}-{release.version}"
    path = folder / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz"):
        pass
    return path


def build_wheel(folder: Path, release: Release) -> Path:
    """Write a real (installable-shaped) wheel holding ``release.metadata``."""
    if release.tag == "sdist":
        return build_sdist(folder, release)
    stem = f"{canonicalize_name(release.name).replace('-', '_')}-{release.version}"
    path = folder / f"{stem}-{release.tag}.whl"
    bulk = random.Random(0).randbytes(release.bulk)  # incompressible, like a wheel's shared objects
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr(f"{stem.split('-')[0]}/_lib.so", bulk, compress_type=zipfile.ZIP_STORED)
        wheel.writestr(f"{stem}.dist-info/METADATA", release.metadata)
        wheel.writestr(f"{stem}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        wheel.writestr(f"{stem}.dist-info/RECORD", "")
    return path


def build_index(root: Path, releases: list[Release], json_pages: bool = True) -> Path:
    """Lay out ``root/simple/<project>/`` pages and ``root/files/`` for ``releases``; returns root/simple."""
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    by_project: dict[str, list[tuple[Release, Path]]] = {}
    for release in releases:
        wheel = build_wheel(files, release)
        if release.metadata_file:
            (files / (wheel.name + ".metadata")).write_text(release.metadata, encoding="utf-8")
        by_project.setdefault(canonicalize_name(release.name), []).append((release, wheel))
    for project, items in by_project.items():
        page = root / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        anchors = []
        entries = []
        for release, wheel in items:
            attr = ' data-core-metadata="true" data-dist-info-metadata="true"' if release.metadata_file else ""
            attr += ' data-yanked=""' if release.yanked else ""
            anchors.append(f'<a href="../../files/{html.escape(wheel.name)}"{attr}>{html.escape(wheel.name)}</a>')
            python = re.search(r"^Requires-Python: (.+)$", release.metadata, re.MULTILINE)
            entries.append({"filename": wheel.name, "url": f"../../files/{wheel.name}", "hashes": {},
                            "core-metadata": release.metadata_file, "yanked": release.yanked,
                            **({"requires-python": python.group(1)} if python else {})})
        (page / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(anchors)
                                         + "\n</body></html>\n", encoding="utf-8")
        if json_pages:
            (page / "index.json").write_text(json.dumps({"meta": {"api-version": "1.1"}, "name": project,
                                                         "files": entries}), encoding="utf-8")
    return root / "simple"


class IndexServer:
    """A threaded HTTP server over ``root``; ``requests`` lists (path, range header) it answered."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Range")))
                local = root / self.path.lstrip("/").split("?")[0]
                accept = self.headers.get("Accept", "")
                if local.is_dir() and "vnd.pypi.simple.v1+json" in accept and (local / "index.json").exists():
                    return self._send(local / "index.json", "application/vnd.pypi.simple.v1+json")
                rng = self.headers.get("Range")
                if rng and local.is_file():
                    return self._send_range(local, rng)
                return super().do_GET()

            def _send(self, path: Path, content_type: str) -> None:
                body = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _send_range(self, path: Path, spec: str) -> None:
                data = path.read_bytes()
                m = re.fullmatch(r"bytes=(\d*)-(\d*)", spec)
                assert m, spec
                if m.group(1) == "":
                    first, last = max(0, len(data) - int(m.group(2))), len(data) - 1
                else:
                    first, last = int(m.group(1)), min(len(data) - 1, int(m.group(2) or len(data) - 1))
                body = data[first:last + 1]
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        """The simple index URL (``http://127.0.0.1:PORT/simple/``)."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/simple/"

    def __enter__(self) -> IndexServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def isolated_pip_env(monkeypatch: object, cache: Path, index_url: str | None = None) -> None:
    """Point envdoctor at ``index_url`` only, with its cache in ``cache`` (no machine pip config)."""
    import os

    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(cache))  # type: ignore[attr-defined]
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # type: ignore[attr-defined]
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)  # type: ignore[attr-defined]
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)  # type: ignore[attr-defined]
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)  # type: ignore[attr-defined]
    monkeypatch.delenv("PIP_CONSTRAINT", raising=False)  # type: ignore[attr-defined]
    if index_url is None:
        monkeypatch.delenv("PIP_INDEX_URL", raising=False)  # type: ignore[attr-defined]
    else:
        monkeypatch.setenv("PIP_INDEX_URL", index_url)  # type: ignore[attr-defined]
