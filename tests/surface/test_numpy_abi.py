"""Which NumPy a build was made against, read from its binaries: installed folders, wheels on a
loopback index, the real binaries of this test environment, and ED113 on a lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envdoctor.surface import numpy_abi
from tests.helpers.index import IndexServer, isolated_pip_env
from tests.helpers.surface import Dist, Index, install

COMPILED = "cp311-cp311-manylinux_2_17_x86_64"
# what the NumPy headers embed, inside otherwise arbitrary binary bytes
NUMPY1_SO = "\x7fELF\x00\x00numpy.core._multiarray_umath\x00_ARRAY_API\x00"
NUMPY2_SO = "\x7fELF\x00\x00numpy._core._multiarray_umath\x00numpy.core._multiarray_umath\x00_ARRAY_API\x00"
PLAIN_SO = "\x7fELF\x00\x00cudnnCreate\x00"


@pytest.mark.parametrize(("data", "major"), [
    (NUMPY1_SO.encode(), 1), (NUMPY2_SO.encode(), 2), (PLAIN_SO.encode(), None), (b"", None),
])
def test_the_headers_mark_says_which_numpy(data: bytes, major: int | None) -> None:
    assert numpy_abi.header_major(data) == major


@pytest.mark.parametrize(("tags", "expected"), [
    (["cp311-cp311-manylinux_2_17_x86_64"], True), (["cp39-abi3-win_amd64"], True),
    (["py3-none-manylinux1_x86_64"], False), (["py3-none-any"], False), ([], False),
])
def test_only_a_wheel_for_a_python_abi_can_hold_an_extension(tags: list[str], expected: bool) -> None:
    assert numpy_abi.python_abi(tags) is expected


def test_an_installed_build_is_read_from_its_files(tmp_path: Path) -> None:
    site = tmp_path / "site"
    old = install(site, Dist("oldext", "1.0", {"oldext/__init__.py": "", "oldext/_lib.cpython-311-x86_64-linux-gnu.so":
                                               NUMPY1_SO, "oldext/_other.cpython-311-x86_64-linux-gnu.so": NUMPY2_SO},
                              tag=COMPILED))
    new = install(site, Dist("newext", "1.0", {"newext/_lib.cpython-311-x86_64-linux-gnu.so": NUMPY2_SO}, tag=COMPILED))
    libs = install(site, Dist("libs", "1.0", {"libs/libcudnn.so.8": NUMPY1_SO}, tag="py3-none-manylinux1_x86_64"))
    assert numpy_abi.installed_major("oldext", "1.0", old) == 1  # one module built for NumPy 1 is enough
    assert numpy_abi.installed_major("newext", "1.0", new) == 2
    assert numpy_abi.installed_major("libs", "1.0", libs) is None  # no Python ABI: not read


def test_this_environments_torch_is_a_numpy2_build() -> None:
    import importlib.metadata as md

    torch = md.distribution("torch")  # the CPU torch the train extra installs
    info = Path(str(torch.locate_file(""))) / f"{torch.metadata['Name']}-{torch.version}.dist-info"
    if not info.is_dir():
        info = next(Path(str(torch.locate_file(""))).glob("torch-*.dist-info"))
    assert numpy_abi.installed_major("torch", torch.version, info) == 2


@pytest.fixture()
def abi_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    """``ext`` 1.0-1.2 built for NumPy 1, 2.0-2.1 for NumPy 2; numpy 1.26.4 and 2.1.0 (pure here)."""
    layout = Index(tmp_path / "index")
    for version, so in (("1.0", NUMPY1_SO), ("1.1", NUMPY1_SO), ("1.2", NUMPY1_SO), ("2.0", NUMPY2_SO),
                        ("2.1", NUMPY2_SO)):
        layout.add(Dist("ext", version, {"ext/__init__.py": "", "ext/_core.cpython-311-x86_64-linux-gnu.so": so},
                        tag=COMPILED))
    for version in ("1.26.4", "2.1.0"):
        layout.add(Dist("numpy", version, {"numpy/__init__.py": ""}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def test_a_release_on_the_index_and_the_first_numpy2_build(abi_index: IndexServer) -> None:
    from envdoctor.env import pipconfig
    from envdoctor.surface import bisect

    files = bisect.release_files("ext", pipconfig.read().urls)
    assert numpy_abi.release_major("ext", "1.1", files["1.1"]) == 1
    assert numpy_abi.release_major("ext", "2.0", files["2.0"]) == 2
    assert numpy_abi.first_numpy2_build("ext", "1.0") == "2.0"
    assert numpy_abi.first_numpy2_build("ext", "2.0") == "2.1"  # the next one after


def lock_check(lock: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "envdoctor", "check", "--env", str(lock), "--no-project",
                           "--format", "json", *args], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_ed113_names_the_numpy1_build_and_both_fixes(abi_index: IndexServer, tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("ext==1.1\nnumpy==2.1.0\n", encoding="utf-8")
    (finding,) = [f for f in lock_check(lock, "--select", "ED113")["findings"]]
    assert finding["packages"] == ["ext", "numpy"] and finding["severity"] == "error"
    assert "ext 1.1 was built against NumPy 1" in finding["message"]
    assert "2.0 is its first release built for NumPy 2" in finding["message"]
    assert [fix["pins"] for fix in finding["fixes"]] == [{"ext": "==2.0"}, {"numpy": "==1.26.4"}]
    lock.write_text("ext==2.0\nnumpy==2.1.0\n", encoding="utf-8")
    assert lock_check(lock, "--select", "ED113")["findings"] == []
    lock.write_text("ext==1.1\nnumpy==1.26.4\n", encoding="utf-8")
    assert lock_check(lock, "--select", "ED113")["findings"] == []  # NumPy 1: nothing to say


@pytest.mark.parametrize(("ext", "numpy"), [("1.1", "==1.26.4"), ("2.0", "==2.1.0")])
def test_a_fix_that_installs_numpy_keeps_numpy_1_for_a_numpy1_build(abi_index: IndexServer, tmp_path: Path,
                                                                     ext: str, numpy: str) -> None:
    from envdoctor.engine import search
    from envdoctor.engine.check import CheckRequest, build_context
    from envdoctor.env import index
    from envdoctor.findings import Applicability, pip_install_fix

    lock = tmp_path / "requirements.txt"
    lock.write_text(f"ext=={ext}\n", encoding="utf-8")
    ctx = build_context(CheckRequest(env_file=lock, include_project=False, quiet=True))
    config = index.IndexSearch.for_snapshot(ctx.snapshot, True)
    try:
        fix = search._concrete(pip_install_fix("install numpy", {"numpy": ""}, Applicability.UNSAFE), ctx, config)
    finally:
        config.close()
    assert fix.pins == {"numpy": numpy}  # the newest numpy, unless a build in the target needs NumPy 1
