"""The release-requirements snapshot (envdoctor.env.releases): generated from an index, read back, extended
from the index for lock files, and compared with the live index when asked (ENVDOCTOR_LIVE_INDEX=1).

The hermetic tests serve the REAL metadata of those releases (tests/fixtures/metadata/) from a loopback index.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from packaging.version import Version
from tests.helpers.core import envdoctor
from tests.helpers.index import DATA, IndexServer, Release, build_index, isolated_pip_env

from envdoctor.env import pipconfig, releases
from envdoctor.env.snapshot import Snapshot

FIXTURE_PAIRS = {"torch": "triton", "vllm": "torch", "torchaudio": "torch", "xformers": "torch",
                 "torchvision": "torch", "trl": "numpy", "llamafactory": "numpy"}


def fixture_releases(*packages: str) -> list[Release]:
    """Every recorded METADATA fixture of ``packages`` as a public index release (no local build labels:
    those stand for other indexes' builds, which the shipped snapshot of PyPI's releases leaves out)."""
    found = []
    for path in sorted(DATA.glob("*.METADATA")):
        name, version = path.name.removesuffix(".METADATA").rsplit("-", 1)
        if name in packages and "+" not in version:
            found.append(Release(name, version, path.read_text(encoding="utf-8")))
    return found


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    build_index(tmp_path / "index", fixture_releases(*FIXTURE_PAIRS))
    with IndexServer(tmp_path / "index") as srv:
        isolated_pip_env(monkeypatch, tmp_path / "cache", srv.url)
        yield srv


def test_the_generator_reproduces_the_shipped_facts_from_the_releases_metadata(server: IndexServer) -> None:
    pairs = [releases.Pair(p, d, "0") for p, d in FIXTURE_PAIRS.items()]
    doc = releases.generate(server.url, pairs, today="2026-12-01")
    shipped = json.loads(releases.SNAPSHOT_PATH.read_text(encoding="utf-8"))["facts"]
    compared = 0
    for package, dependency in FIXTURE_PAIRS.items():
        generated = doc["facts"][package][dependency]
        assert generated, package
        for version, fact in generated.items():
            assert fact == shipped[package][dependency][version], f"{package} {version}"
            compared += 1
    assert compared == len(fixture_releases(*FIXTURE_PAIRS))
    # the shipped file parses and answers for a local build label
    recorded = releases.shipped()
    assert recorded.release("torch", "triton", "2.6.0+cu124") == recorded.release("torch", "triton", "2.6.0")


def test_generated_snapshot_reads_back(server: IndexServer, tmp_path: Path) -> None:
    out = tmp_path / "snap.json"
    doc = releases.generate(server.url, [releases.Pair("torch", "triton", "2.12.0")], today="2026-12-01")
    out.write_text(json.dumps(doc), encoding="utf-8")
    recorded = releases.parse_snapshot(json.loads(out.read_text(encoding="utf-8")), str(out))
    served = sorted((r.version for r in fixture_releases("torch") if Version(r.version) >= Version("2.12.0")),
                    key=Version)
    assert [r.version for r in recorded.releases("torch", "triton")] == served
    assert {"2.12.0", "2.12.1", "2.13.0", "2.14.0", "2.15.0"} <= set(served)
    assert recorded.release("torch", "triton", "2.12.1").requires == ('triton==3.7.1; platform_system == "Linux"',)
    with pytest.raises(ValueError, match="snap.json: not a release snapshot"):
        releases.parse_snapshot({"facts": []}, str(out))


def lock_snapshot(tmp_path: Path) -> Snapshot:
    lock = tmp_path / "req.txt"
    lock.write_text("vllm==0.14.0\n", encoding="utf-8")
    return Snapshot(source=f"file:{lock}", python_version="3.12.3")


def test_history_adds_the_index_releases_beyond_the_snapshot(server: IndexServer, tmp_path: Path) -> None:
    older = releases.ReleaseSnapshot("2026-01-01", "loopback", {"vllm": {"torch": {
        "0.8.5": releases.Release("0.8.5", ("torch==2.6.0",), ">=3.9")}}})
    snap = lock_snapshot(tmp_path)
    known, origin = releases.history("vllm", "torch", snap, offline=False, recorded=older)
    newer = sorted((r.version for r in fixture_releases("vllm") if Version(r.version) > Version("0.8.5")), key=Version)
    assert [r.version for r in known][:3] == ["0.8.5", *newer[:2]]
    assert dict((r.version, r.requires) for r in known)["0.14.0"] == ("torch==2.9.1",)
    assert "newer release(s) on http://127.0.0.1" in origin
    offline, _ = releases.history("vllm", "torch", snap, offline=True, recorded=older)
    assert [r.version for r in offline] == ["0.8.5"]
    installed = Snapshot(source="live", python_version="3.12.3")  # never asks the index for an installed env
    assert [r.version for r in releases.history("vllm", "torch", installed, False, older)[0]] == ["0.8.5"]


def test_a_lock_is_checked_with_the_metadata_from_the_index(server: IndexServer, tmp_path: Path) -> None:
    """torch 2.2.1 requires triton only below Python 3.12 (its metadata's marker), end to end."""
    lock = tmp_path / "req.txt"
    lock.write_text("torch==2.2.1\ntriton==3.0.0\n", encoding="utf-8")
    env = {"ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache2"), "PIP_INDEX_URL": server.url}

    def ed102(python: str) -> list[dict]:  # type: ignore[type-arg]
        proc = envdoctor("check", "--env", str(lock), "--python-version", python, "--platform", "linux_x86_64",
                         "--no-project", "--format", "json", "--select", "ED102", env=env)
        assert proc.returncode in (0, 1), proc.stderr
        return json.loads(proc.stdout)["findings"]

    [finding] = ed102("3.11")
    assert "triton==2.2.0 (torch's metadata)" in finding["message"]
    assert ed102("3.12") == []


@pytest.mark.parametrize(("pins", "code", "expected"), [
    ("trl==0.9.6\nnumpy==2.1.3\n", "ED112", "trl 0.9.6 declares numpy<2.0.0,>=1.18.2 (trl's metadata)"),
    ("trl==0.9.4\nnumpy==2.1.3\n", "ED112", None),
    ("llamafactory==0.8.3\nnumpy==2.1.3\n", "ED112", "llamafactory 0.8.3 declares numpy<2.0.0 (llamafactory's metadata)"),
    ("llamafactory==0.8.2\nnumpy==2.1.3\n", "ED112", None),
    ("vllm==0.14.0\ntorch==2.9.0\n", "ED120", "vllm 0.14.0 is compiled against torch==2.9.1 (vllm's metadata)"),
    ("vllm==0.14.0\ntorch==2.9.1\n", "ED120", None),
])
def test_lock_rules_read_the_real_release_metadata(server: IndexServer, tmp_path: Path, pins: str, code: str,
                                                    expected: str | None) -> None:
    lock = tmp_path / "req.txt"
    lock.write_text(pins, encoding="utf-8")
    proc = envdoctor("check", "--env", str(lock), "--python-version", "3.11", "--platform", "linux_x86_64",
                     "--no-project", "--format", "json", "--select", code,
                     env={"ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache2"), "PIP_INDEX_URL": server.url})
    assert proc.returncode in (0, 1), proc.stderr
    messages = [f["message"] for f in json.loads(proc.stdout)["findings"]]
    if expected:
        assert any(expected in m for m in messages), messages
    else:
        assert messages == [], messages


@pytest.mark.skipif(os.environ.get("ENVDOCTOR_LIVE_INDEX") != "1",
                    reason="asks the real package index: set ENVDOCTOR_LIVE_INDEX=1 to compare the snapshot with it")
def test_the_shipped_snapshot_matches_the_live_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_pip_env(monkeypatch, tmp_path / "cache", os.environ.get("ENVDOCTOR_LIVE_INDEX_URL"))
    url = pipconfig.read().index_url
    live = releases.generate(url)["facts"]
    shipped = json.loads(releases.SNAPSHOT_PATH.read_text(encoding="utf-8"))["facts"]
    stale = [f"{p} {v}: shipped {recorded.get(v)}, index {live[p][d].get(v)}"
             for p, deps in shipped.items() for d, recorded in deps.items()
             for v in sorted(set(recorded) | set(live[p][d])) if recorded.get(v) != live[p][d].get(v)]
    assert not stale, f"regenerate it with `python -m envdoctor.env.releases`: {stale}"
