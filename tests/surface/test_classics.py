"""Two public breakages end to end, on real releases' files served from a loopback index:
``from markupsafe import soft_unicode`` (jinja2 2.x) with markupsafe 2.1, and a script using
``np.float`` with numpy 1.24.  ``envdoctor check --python`` on a real venv, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers.core import envdoctor
from tests.helpers.index import IndexServer
from tests.helpers.surface import Index, install, real

MARKUPSAFE = ["1.1.1", "2.0.0", "2.0.1", "2.1.0", "2.1.1", "2.1.3", "3.0.2"]
NUMPY = ["1.19.5", "1.20.3", "1.23.5", "1.24.0", "1.24.4", "2.0.2"]


def venv(folder: Path) -> tuple[Path, Path]:
    """A real venv (no pip) and its site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    site = next((folder / "lib").glob("python3*/site-packages"))
    return folder / "bin" / "python", site


def check(python: Path, server: IndexServer, cache: Path, *extra: str) -> list[dict]:
    proc = envdoctor("check", "--python", str(python), "--select", "ED150", "--format", "json", *extra,
                     env={"PIP_INDEX_URL": server.url, "ENVDOCTOR_CACHE_DIR": str(cache)}, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["findings"]


@pytest.fixture()
def markupsafe_index(tmp_path: Path) -> IndexServer:
    layout = Index(tmp_path / "index")
    for version in MARKUPSAFE:
        layout.add(real("markupsafe", version))
    for version in ("2.11.3", "3.0.0"):
        layout.add(real("jinja2", version))
    with IndexServer(tmp_path / "index") as server:
        yield server


def test_soft_unicode_with_markupsafe_2_1(markupsafe_index: IndexServer, tmp_path: Path) -> None:
    python, site = venv(tmp_path / "venv")
    install(site, real("jinja2", "2.11.3"))
    install(site, real("markupsafe", "2.1.0"))
    findings = check(python, markupsafe_index, tmp_path / "cache", "--no-project")
    assert len(findings) == 1, findings  # utils.py imports it inside a function: not reported
    finding = findings[0]
    assert finding["code"] == "ED150" and finding["packages"] == ["jinja2", "markupsafe"]
    assert "jinja2 2.11.3 uses `markupsafe.soft_unicode`" in finding["message"]
    assert "markupsafe 2.1.0 does not have" in finding["message"]
    assert "up to 2.0.1" in finding["message"] and "removed in 2.1.0" in finding["message"]
    assert "its successor is `soft_str`" in finding["message"]  # 2.0.1's own deprecation warning
    pins = [fix["pins"] for fix in finding["fixes"]]  # the rule's ranges, made concrete by check's fix search
    assert pins == [{"jinja2": "==3.0.0"}, {"markupsafe": "==2.0.1"}]
    assert "a downgrade" in finding["fixes"][1]["title"]
    again = check(python, markupsafe_index, tmp_path / "cache", "--no-project", "--offline")
    assert [f["message"] for f in again] == [finding["message"]]  # from the cache


def test_soft_unicode_not_flagged_with_markupsafe_2_0(markupsafe_index: IndexServer, tmp_path: Path) -> None:
    python, site = venv(tmp_path / "venv")
    install(site, real("jinja2", "2.11.3"))
    install(site, real("markupsafe", "2.0.1"))
    assert check(python, markupsafe_index, tmp_path / "cache", "--no-project") == []


@pytest.fixture()
def numpy_index(tmp_path: Path) -> IndexServer:
    layout = Index(tmp_path / "index")
    for version in NUMPY:
        layout.add(real("numpy", version))
    with IndexServer(tmp_path / "index") as server:
        yield server


SCRIPT = textwrap.dedent("""
    import numpy as np
    from packaging import version

    def scale(values):
        return np.asarray(values, dtype=np.float)

    if version.parse(np.__version__) < version.parse("1.20"):
        LEGACY = np.float
""")


@pytest.mark.parametrize(("installed", "flagged"), [("1.24.0", True), ("1.23.5", False), ("1.24.4", True)])
def test_np_float_in_a_script(numpy_index: IndexServer, tmp_path: Path, installed: str, flagged: bool) -> None:
    python, site = venv(tmp_path / "venv")
    install(site, real("numpy", installed))
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT, encoding="utf-8")
    findings = check(python, numpy_index, tmp_path / "cache", "--path", str(project))
    if not flagged:
        assert findings == []  # 1.20-1.23 still have it (deprecated): no error
        return
    assert len(findings) == 1, findings  # the version-guarded use is not reported
    finding = findings[0]
    assert finding["locations"][0]["line"] == 6 and finding["locations"][0]["path"].endswith("train.py")
    assert f"numpy {installed} does not have" in finding["message"]
    assert "up to 1.23.5" in finding["message"] and "removed in 1.24.0" in finding["message"]
    assert "use `float` instead of `numpy.float`" in finding["fixes"][0]["title"]
    assert finding["fixes"][1]["pins"] == {"numpy": "==1.23.5"} and "a downgrade" in finding["fixes"][1]["title"]
