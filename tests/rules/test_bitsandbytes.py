"""ED104: bitsandbytes' shipped native libraries against torch's CUDA build, read from real dist-info folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.engine import core as engine
from envdoctor.env.probe import collect_distributions
from envdoctor.env.snapshot import Hardware, Snapshot, from_probe
from envdoctor.knowledge import base as knowledge
from envdoctor.rules.base import Context


def make_dist(site: Path, name: str, version: str, files: list[str]) -> None:
    """A real installed distribution: METADATA plus a RECORD that lists ``files``."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n", encoding="utf-8")
    record = [f"{name}/{f},," for f in files] + [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")


def snapshot_of(site: Path, environ: dict[str, str] | None = None) -> Snapshot:
    dists, notes = collect_distributions([str(site)])
    data = {"python": {"version": "3.12.3", "implementation": "cpython", "executable": "python"},
            "platform": {"system": "Linux", "machine": "x86_64", "glibc": "2.35"},
            "marker_env": {}, "distributions": dists, "environ": environ or {}, "notes": notes}
    return from_probe(data, "live", Hardware(nvml="ok"))


def findings(snap: Snapshot) -> list:
    kb = knowledge.load()
    return engine.run(Context(snapshot=snap, kb=kb), [kb.rules["ED104"]])


@pytest.fixture
def site(tmp_path: Path) -> Path:
    make_dist(tmp_path, "bitsandbytes", "0.45.0",
              ["libbitsandbytes_cpu.so", "libbitsandbytes_cuda118.so", "libbitsandbytes_cuda121.so",
               "libbitsandbytes_cuda124.so", "__init__.py"])
    return tmp_path


def test_native_libraries_are_read_from_record(site: Path) -> None:
    snap = snapshot_of(site)
    assert snap.distributions["bitsandbytes"].native_libs == (
        "libbitsandbytes_cpu.so", "libbitsandbytes_cuda118.so", "libbitsandbytes_cuda121.so",
        "libbitsandbytes_cuda124.so")


@pytest.mark.parametrize("torch_version, expected", [
    ("2.5.1+cu124", None),           # exact build shipped
    ("2.6.0+cu126", "error"),        # same major only: 0.45.0 loads the exact build or none
    ("2.9.0+cu130", "error"),        # no CUDA 13 build at all
    ("2.5.1+cu118", None),
    ("2.5.1+cpu", None),             # not a CUDA torch
])
def test_torch_cuda_against_shipped_binaries(site: Path, torch_version: str, expected: str | None) -> None:
    make_dist(site, "torch", torch_version, ["__init__.py"])
    found = findings(snapshot_of(site))
    assert [f.severity.value for f in found] == ([expected] if expected else [])


CUDA_12 = ["libbitsandbytes_cpu.so", "libbitsandbytes_cuda118.so", "libbitsandbytes_cuda121.so",
           "libbitsandbytes_cuda124.so", "libbitsandbytes_cuda128.so"]


@pytest.mark.parametrize(("bnb", "expected"), [
    ("0.43.0", "error"), ("0.45.5", "error"), ("0.49.2", "error"),  # exact build only (cextension.py)
    ("0.50.0", "warning"), ("0.50.2", "warning"),                    # nearest same-major build
])
def test_same_major_fallback_follows_the_release_loading_rule(tmp_path: Path, bnb: str, expected: str) -> None:
    make_dist(tmp_path, "bitsandbytes", bnb, CUDA_12)
    make_dist(tmp_path, "torch", "2.6.0+cu126", ["__init__.py"])
    [finding] = findings(snapshot_of(tmp_path))
    assert finding.severity.value == expected
    assert finding.fixes[0].env == {"BNB_CUDA_VERSION": "124"}  # the highest lower CUDA 12 build
    if expected == "error":
        assert finding.fixes[1].pins == {"bitsandbytes": ">=0.50.0"}


def test_fallback_picks_the_lowest_higher_build_when_none_is_lower(tmp_path: Path) -> None:
    make_dist(tmp_path, "bitsandbytes", "0.50.0", ["libbitsandbytes_cuda121.so", "libbitsandbytes_cuda124.so"])
    make_dist(tmp_path, "torch", "2.1.0+cu120", ["__init__.py"])
    [finding] = findings(snapshot_of(tmp_path))
    assert finding.severity.value == "warning" and finding.fixes[0].env == {"BNB_CUDA_VERSION": "121"}


def test_no_release_falls_back_across_majors(tmp_path: Path) -> None:
    make_dist(tmp_path, "bitsandbytes", "0.50.0", CUDA_12)
    make_dist(tmp_path, "torch", "2.9.0+cu130", ["__init__.py"])
    assert [f.severity.value for f in findings(snapshot_of(tmp_path))] == ["error"]


def test_bnb_cuda_version_override_must_name_a_shipped_build(site: Path) -> None:
    make_dist(site, "torch", "2.5.1+cu124", ["__init__.py"])
    assert [f.severity.value for f in findings(snapshot_of(site, {"BNB_CUDA_VERSION": "126"}))] == ["error"]
    assert findings(snapshot_of(site, {"BNB_CUDA_VERSION": "121"})) == []
