"""Release files: RECORD of an installed distribution, a wheel read by range requests, an sdist."""

from __future__ import annotations

import io
import random
import tarfile
import zipfile
from pathlib import Path

import pytest

from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.lookup import answer
from envdoctor.surface.query import Query
from envdoctor.surface.sources import InstalledSource, SdistSource, WheelSource, module_files, shadowed_files
from tests.helpers.index import IndexServer, isolated_pip_env
from tests.helpers.surface import Dist, Index, install

BIG = f"X = {random.Random(0).randbytes(300_000).hex()!r}\n"  # a large module the query never needs


def test_module_files_prefers_source_then_stubs_then_extensions() -> None:
    mods = module_files(["pkg/__init__.py", "pkg/_speedups.cpython-311-x86_64-linux-gnu.so", "pkg/_speedups.pyi",
                         "pkg/_c.abi3.so", "pkg-1.0.dist-info/RECORD", "pkg/__pycache__/x.cpython-311.pyc",
                         "top.py", "bin/tool-name.py"])
    assert mods == {"pkg": "pkg/__init__.py", "pkg._speedups": "pkg/_speedups.pyi",
                    "pkg._c": "native:pkg/_c.abi3.so", "top": "top.py"}


def test_a_source_file_beside_an_extension_module_of_its_name_is_shadowed() -> None:
    paths = ["av/_core.py", "av/_core.cpython-312-x86_64-linux-gnu.so", "av/frame.py", "av/frame.pxd",
             "av/codec/context.py", "av/codec/context.abi3.so", "av/codec.py", "other/_core.py"]
    assert shadowed_files(paths) == ["av/_core.py", "av/codec/context.py"]


def test_installed_source_key_follows_the_record(tmp_path: Path) -> None:
    info = install(tmp_path / "site", Dist("pkg", "1.0", {"pkg/__init__.py": "A = 1\n"}))
    first = InstalledSource("pkg", "1.0", info)
    assert "pkg/__init__.py" in first.files() and first.read("pkg/__init__.py") == b"A = 1\n"
    (info / "RECORD").write_text((info / "RECORD").read_text() + "pkg/extra.py,,\n")
    assert InstalledSource("pkg", "1.0", info).key != first.key


def test_wheel_on_the_index_reads_only_the_needed_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    wheel = layout.add(Dist("pkg", "1.0", {"pkg/small.py": "name = 1\n", "pkg/big.py": BIG,
                                            "pkg/__init__.py": "from .small import name\n"}))
    big = zipfile.ZipFile(wheel).getinfo("pkg/big.py")
    middle, size = big.header_offset + big.compress_size // 2, wheel.stat().st_size
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        url = server.url.replace("/simple/", f"/files/{wheel.name}")
        release = ReleaseSymbols.open(WheelSource("pkg", "1.0", url, wheel.name))
        assert answer(release, Query("pkg.small", "name")).status is True
        ranges = [rng for path, rng in server.requests if path.endswith(".whl")]
        assert ranges and all(rng is not None for rng in ranges)
        spans = [(size - int(r[7:]), size) if r.startswith("bytes=-") else
                 tuple(int(n) for n in r.removeprefix("bytes=").split("-")) for r in ranges]
        assert any(first == 0 for first, _ in spans), (spans, size, middle)  # small.py, at the start, was read
        assert not any(first <= middle <= last for first, last in spans)  # big.py was not


def test_many_members_of_a_remote_wheel_come_in_a_few_merged_requests(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    stars = {f"pkg/m{i}.py": f"def f{i}(): ...\n" for i in range(8)}
    layout = Index(tmp_path / "index")
    wheel = layout.add(Dist("pkg", "1.0", {"pkg/__init__.py": "".join(f"from .m{i} import *\n" for i in range(8)),
                                            **stars, "pkg/zbig.py": BIG}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        url = server.url.replace("/simple/", f"/files/{wheel.name}")
        release = ReleaseSymbols.open(WheelSource("pkg", "1.0", url, wheel.name))
        assert answer(release, Query("pkg", "f7")).status is True  # nine modules read and parsed
        assert answer(release, Query("pkg", "nowhere")).status is False
        members = [rng for p, rng in server.requests if p.endswith(".whl") and not str(rng).startswith("bytes=-")]
        # one request per module's header, name and data would be 27; merged: the package, then the stars
        assert 0 < len(members) <= 3, members
        assert all(rng is not None for rng in members)


def test_a_wheel_too_large_to_read_whole_is_refused_before_any_download(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.surface import sources
    from envdoctor.surface.sources import SourceError

    layout = Index(tmp_path / "index")
    wheel = layout.add(Dist("pkg", "1.0", {"pkg/__init__.py": "name = 1\n", "pkg/big.py": BIG}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        url = server.url.replace("/simple/", f"/files/{wheel.name}")
        monkeypatch.setattr(sources, "MAX_WHEEL_BYTES", wheel.stat().st_size - 1)
        with pytest.raises(SourceError, match="not read whole"):
            WheelSource("pkg", "1.0", url, wheel.name).prefetch()
        assert all(rng is not None for path, rng in server.requests if path.endswith(".whl"))  # ranges only
        monkeypatch.setattr(sources, "MAX_WHEEL_BYTES", wheel.stat().st_size)
        whole = WheelSource("pkg", "1.0", url, wheel.name)
        whole.prefetch()  # at the limit: one plain download, then every member is local
        assert [rng for path, rng in server.requests if path.endswith(".whl")][-1] is None
        assert whole.read("pkg/__init__.py") == b"name = 1\n"


def test_sdist_is_read_whole_without_its_top_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    archive = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in {"pkg-1.0/src/pkg/__init__.py": "def f(a): ...\n", "pkg-1.0/setup.py": ""}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    release = ReleaseSymbols.open(SdistSource("pkg", "1.0", archive.as_uri(), archive.name))
    assert answer(release, Query("pkg", "f", kwarg="a")).status is True
    assert answer(release, Query("pkg", "f", kwarg="b")).status is False
