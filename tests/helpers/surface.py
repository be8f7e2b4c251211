"""Releases for the surface engine's tests: real wheels and installed ``*.dist-info`` folders built
from source files (the test's own or the real ones under tests/fixtures/surface/), and a loopback
index serving those wheels (PEP 691 JSON and PEP 503 pages; range requests via IndexServer)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from tests.helpers.index import IndexServer, isolated_pip_env

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "surface"


@dataclass(frozen=True)
class Dist:
    """One release: its files (path -> source text) and Requires-Dist."""

    name: str
    version: str
    files: dict[str, str]
    requires: tuple[str, ...] = ()
    yanked: bool = False
    metadata: str | None = None  # real METADATA text, else generated
    tag: str = "py3-none-any"  # the wheel's tag: cp311-cp311-manylinux_2_17_x86_64 for a compiled one
    uploaded: str | None = None  # the JSON page's PEP 700 upload-time (ISO 8601), when given

    def metadata_text(self) -> str:
        if self.metadata is not None:
            return self.metadata
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        return "\n".join(lines + [f"Requires-Dist: {r}" for r in self.requires]) + "\n\n"

    @property
    def stem(self) -> str:
        return f"{canonicalize_name(self.name).replace('-', '_')}-{self.version}"


def real(name: str, version: str) -> Dist:
    """A release recorded under tests/fixtures/surface/<name>/<version>/."""
    root = FIXTURES / name / version
    files = {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in root.rglob("*.py")}
    return Dist(name, version, files, metadata=(root / "METADATA").read_text(encoding="utf-8"))


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _members(dist: Dist) -> dict[str, bytes]:
    members = {path: text.encode("utf-8") for path, text in dist.files.items()}
    members[f"{dist.stem}.dist-info/METADATA"] = dist.metadata_text().encode("utf-8")
    purelib = "true" if dist.tag == "py3-none-any" else "false"
    members[f"{dist.stem}.dist-info/WHEEL"] = (f"Wheel-Version: 1.0\nRoot-Is-Purelib: {purelib}\n"
                                               f"Tag: {dist.tag}\n").encode()
    record = [_record_line(p, d) for p, d in members.items()] + [f"{dist.stem}.dist-info/RECORD,,"]
    members[f"{dist.stem}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    return members


def build_wheel(folder: Path, dist: Dist) -> Path:
    """A real wheel of ``dist`` (files, METADATA, WHEEL, RECORD with hashes)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist.stem}-{dist.tag}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for member, data in _members(dist).items():
            wheel.writestr(member, data)
    return path


def install(site: Path, dist: Dist) -> Path:
    """Lay ``dist`` out in ``site`` as pip installs a wheel; returns its ``*.dist-info`` folder."""
    for member, data in _members(dist).items():
        target = site / member
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (site / f"{dist.stem}.dist-info" / "INSTALLER").write_text("pip\n", encoding="utf-8")
    return site / f"{dist.stem}.dist-info"


@dataclass
class Index:
    """A folder laid out as a simple index: ``root/simple/<project>/`` and ``root/files/``."""

    root: Path
    projects: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    def add(self, dist: Dist) -> Path:
        wheel = build_wheel(self.root / "files", dist)
        self.projects.setdefault(canonicalize_name(dist.name), []).append(
            {"filename": wheel.name, "url": f"../../files/{wheel.name}", "hashes": {}, "yanked": dist.yanked,
             **({"upload-time": dist.uploaded} if dist.uploaded else {})})
        self._write(canonicalize_name(dist.name))
        return wheel

    def _write(self, project: str) -> None:
        page = self.root / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        entries = self.projects[project]
        (page / "index.json").write_text(json.dumps({"meta": {"api-version": "1.1"}, "name": project,
                                                     "files": entries}), encoding="utf-8")
        anchors = [f'<a href="{html.escape(str(e["url"]))}"{" data-yanked" if e["yanked"] else ""}>'
                   f'{html.escape(str(e["filename"]))}</a>' for e in entries]
        (page / "index.html").write_text("<html><body>\n" + "\n".join(anchors) + "\n</body></html>\n",
                                         encoding="utf-8")


def serve(tmp_path: Path, monkeypatch: object, dists: Iterable[Dist]) -> Iterator[IndexServer]:
    """Build a loopback index of ``dists`` under ``tmp_path`` and point pip and envdoctor at it
    while the generator is suspended (a fixture's body: ``yield from serve(...)``)."""
    layout = Index(tmp_path / "index")
    for dist in dists:
        layout.add(dist)
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server
