"""Families that read the release history on an index: a loopback index the test builds and serves."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from envdoctor.engine.check import CheckRequest
from envdoctor.explain.command import explain_log
from tests.helpers.index import IndexServer, Release, build_index, isolated_pip_env, metadata_text

RELEASES = [Release("torchvision", v, metadata_text("torchvision", v, [f"torch=={t}"]))
            for v, t in (("0.17.1", "2.2.1"), ("0.17.2", "2.2.2"), ("0.18.0", "2.3.0"))]
RELEASES += [Release("click", v, metadata_text("click", v, [], p))
             for v, p in (("8.1.7", ">=3.7"), ("8.1.8", ">=3.7"), ("8.2.0", ">=3.10"), ("8.2.1", ">=3.10"))]


def _explain(text: str, tmp_path: Path, request: CheckRequest | None):  # type: ignore[no-untyped-def]
    log = tmp_path / "run.log"
    log.write_text(text, encoding="utf-8")
    return explain_log(log, sys.stdin.buffer, request, None)


@pytest.fixture
def index_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    build_index(tmp_path / "idx", RELEASES)
    with IndexServer(tmp_path / "idx") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def test_the_requirer_moves_to_the_release_that_accepts_the_installed_version(tmp_path: Path, index_url) -> None:  # type: ignore[no-untyped-def]
    log = "torchvision 0.18.0 requires torch==2.3.0, but you have torch 2.2.1 which is incompatible.\n"
    finding = _explain(log, tmp_path, None).findings[0]
    assert [fix.pins for fix in finding.fixes] == [{"torch": "==2.3.0"}, {"torchvision": "==0.17.1"}]


def test_no_release_accepts_it_gives_no_requirer_pin(tmp_path: Path, index_url) -> None:  # type: ignore[no-untyped-def]
    log = "torchvision 0.18.0 requires torch==2.3.0, but you have torch 2.0.0 which is incompatible.\n"
    finding = _explain(log, tmp_path, None).findings[0]
    assert [fix.pins for fix in finding.fixes] == [{"torch": "==2.3.0"}]


@pytest.mark.parametrize(("python", "newest"), [("3.9", "8.1.8"), ("3.11", "8.2.1")])
def test_the_newest_release_for_the_target_python(tmp_path: Path, index_url, python: str, newest: str) -> None:  # type: ignore[no-untyped-def]
    lock = tmp_path / "requirements.lock"
    lock.write_text("click==8.2.1\n", encoding="utf-8")
    request = CheckRequest(env_file=lock, include_project=False, quiet=True, python_version=python)
    log = "ERROR: No matching distribution found for click==8.2.1\n"
    finding = next(f for f in _explain(log, tmp_path, request).findings if f.code == "ED609")
    assert {"click": f"=={newest}"} in [fix.pins for fix in finding.fixes]
