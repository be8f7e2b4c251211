"""Implied packages: what a partial freeze's pins imply, from the real metadata of the pinned
versions served by a loopback index (tests/fixtures/metadata/), on both sides of each boundary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from envdoctor.env.implied import exact_version, is_narrow, range_within
from envdoctor.env.snapshot import ImpliedRange
from tests.helpers.core import envdoctor
from tests.helpers.index import IndexServer, Release, build_index, real_metadata

LINUX = "py3-none-manylinux_2_24_x86_64"
REAL = [("torch", "2.6.0"), ("triton", "3.2.0"), ("torchvision", "0.21.0"), ("sympy", "1.13.1"),
        ("sympy", "1.13.3"), ("mpmath", "1.3.0"), ("torchvision", "0.22.0"), ("torch", "2.7.0"), ("bitsandbytes", "0.44.1"), ("bitsandbytes", "0.45.0"),
        ("bitsandbytes", "0.45.1"), ("bitsandbytes", "0.45.2"), ("torch", "2.14.1")]


@pytest.mark.parametrize(("spec", "narrow"), [
    ("~=3.8.0", True), ("==3.8.*", True), (">=1.13.3,<1.14", True), ("<3.9,>=3.8.1", True),
    (">=2.0", False), ("<3", False), (">=2,<3", False), ("~=3.8", False), ("!=1.0", False), ("", False),
])
def test_only_a_range_inside_one_release_series_is_narrow(spec: str, narrow: bool) -> None:
    assert is_narrow(SpecifierSet(spec)) is narrow


@pytest.mark.parametrize(("text", "version"), [
    ("triton==3.2.0", "3.2.0"), ("triton (==3.2.0)", "3.2.0"), ("triton===3.2.0", "3.2.0"),
    ("triton==3.2.*", None), ("triton>=3.2.0", None), ("triton<=3.2.0,>=3.2.0", None), ("triton", None),
])
def test_only_an_exact_requirement_implies_a_version(text: str, version: str | None) -> None:
    assert exact_version(Requirement(text)) == version


@pytest.fixture()
def index(tmp_path: Path):
    build_index(tmp_path / "idx", [Release(n, v, real_metadata(n, v), tag=LINUX) for n, v in REAL])
    with IndexServer(tmp_path / "idx") as server:
        yield server


def check(tmp_path: Path, server: IndexServer, lines: list[str], *extra: str, fmt: str = "json"):
    path = tmp_path / "freeze.txt"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    env = {"ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache"), "PIP_INDEX_URL": server.url}
    proc = envdoctor("check", "--env", str(path), "--python-version", "3.11", "--platform", "linux_x86_64",
                     "--no-project", "--format", fmt, *extra, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, (json.loads(proc.stdout) if fmt in ("json", "sarif") else proc.stdout)


def by_code(doc: dict, code: str) -> list[dict]:
    return [f for f in doc["findings"] if f["code"] == code]


def test_one_step_torch_implies_the_triton_that_breaks_bitsandbytes(tmp_path: Path, index: IndexServer) -> None:
    code, doc = check(tmp_path, index, ["torch==2.6.0", "bitsandbytes==0.44.1"])
    assert code == 1
    [ed101] = by_code(doc, "ED101")
    assert "triton 3.2.0" in ed101["message"]
    assert ed101["inferred"] == ["triton 3.2.0, implied by torch==2.6.0"]
    # the search names the nearest release in >=0.45.1 (0.45.0 still imports triton.ops; 0.45.2 is further)
    assert ed101["fixes"][0]["pins"] == {"bitsandbytes": "==0.45.1"}
    assert ["{python}", "-m", "pip", "install", "bitsandbytes==0.45.1"] in ed101["fixes"][0]["commands"]
    assert {"path": str(tmp_path / "freeze.txt"), "line": 1, "column": None} in ed101["locations"]
    implied = {d["name"]: d for d in doc["target"]["implied"]}
    assert implied["triton"] == {"name": "triton", "version": "3.2.0", "implied_by": ["torch==2.6.0"]}
    assert "numpy" not in implied and "filelock" not in implied  # unversioned requirements imply nothing
    assert any(n.startswith("inferred ") for n in doc["notes"])


def test_the_other_side_a_working_bitsandbytes_and_no_infer(tmp_path: Path, index: IndexServer) -> None:
    code, doc = check(tmp_path, index, ["torch==2.6.0", "bitsandbytes==0.45.1"])
    assert code == 0 and not by_code(doc, "ED101")
    code, doc = check(tmp_path, index, ["torch==2.6.0", "bitsandbytes==0.44.1"], "--no-infer")
    assert code == 0 and doc["target"]["implied"] == []  # only what the file lists


def test_a_wide_range_implies_nothing(tmp_path: Path, index: IndexServer) -> None:
    code, doc = check(tmp_path, index, ["bitsandbytes==0.45.1"])  # requires torch (no version)
    assert code == 0 and doc["target"]["implied"] == []


def test_two_step_chain_ending_in_a_listed_packages_conflict(tmp_path: Path, index: IndexServer) -> None:
    # torchvision 0.21.0 pins torch==2.6.0, which pins sympy==1.13.1; the file lists sympy 1.13.3
    code, doc = check(tmp_path, index, ["torchvision==0.21.0", "sympy==1.13.3"])
    assert code == 1
    [ed001] = [f for f in by_code(doc, "ED001") if f["packages"] == ["torch", "sympy"]]
    assert ed001["message"].startswith("torch 2.6.0 requires sympy==1.13.1, but sympy 1.13.3")
    assert ed001["inferred"] == ["torch 2.6.0, implied by torchvision==0.21.0"]
    assert ed001["fixes"][0]["pins"] == {"sympy": "==1.13.1"}
    # or move the pin at the chain's root: torchvision 0.22.0 brings torch 2.7.0, whose sympy>=1.13.3 fits
    assert ed001["fixes"][1]["pins"] == {"torchvision": "==0.22.0"}
    assert "moving torch 2.6.0 → 2.7.0" in ed001["fixes"][1]["title"]
    code, doc = check(tmp_path, index, ["torchvision==0.21.0", "sympy==1.13.1"])
    assert not [f for f in by_code(doc, "ED001") if "sympy" in f["packages"]]


def test_two_step_chain_to_the_triton_that_breaks_bitsandbytes(tmp_path: Path, index: IndexServer) -> None:
    code, doc = check(tmp_path, index, ["torchvision==0.21.0", "bitsandbytes==0.44.1"])
    assert code == 1
    [ed101] = by_code(doc, "ED101")
    assert ed101["inferred"] == ["triton 3.2.0, implied by torch==2.6.0 ← torchvision==0.21.0"]
    assert ed101["fixes"][0]["pins"] == {"bitsandbytes": "==0.45.1"}
    code, text = check(tmp_path, index, ["torchvision==0.21.0", "bitsandbytes==0.44.1"], fmt="text")
    assert "    inferred: triton 3.2.0, implied by torch==2.6.0 ← torchvision==0.21.0" in text
    code, sarif = check(tmp_path, index, ["torchvision==0.21.0", "bitsandbytes==0.44.1"], fmt="sarif")
    [result] = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "ED101"]
    assert "[inferred: triton 3.2.0, implied by torch==2.6.0 ← torchvision==0.21.0]" in result["message"]["text"]
    assert result["properties"]["inferred"] == ed101["inferred"]


def test_a_narrow_range_implies_a_range_not_a_version(tmp_path: Path, index: IndexServer) -> None:
    # torch 2.14.1 declares triton~=3.8.0 (Linux, Python < 3.15)
    code, doc = check(tmp_path, index, ["torch==2.14.1"])
    assert "triton" not in {d["name"] for d in doc["target"]["implied"]}
    assert {"name": "triton", "spec": "~=3.8.0", "implied_by": ["torch==2.14.1"]} in doc["target"]["implied_ranges"]


@pytest.mark.parametrize(("spec", "within"), [
    (">=3.2.0", True), (">=3.8.0,<3.9", True), ("<3.8.5", False), (">=3.8.1", False), ("<3.2", False),
])
def test_a_range_satisfies_a_condition_only_as_a_whole(spec: str, within: bool) -> None:
    assert range_within(ImpliedRange("triton", "~=3.8.0", ("torch==2.14.1",)), SpecifierSet(spec)) is within


def test_rules_see_an_implied_range(tmp_path: Path, index: IndexServer) -> None:
    # every triton in ~=3.8.0 lacks triton.ops: ED101 holds for the whole range
    code, doc = check(tmp_path, index, ["torch==2.14.1", "bitsandbytes==0.44.1"])
    [ed101] = by_code(doc, "ED101")
    assert code == 1 and "triton ~=3.8.0 no longer has" in ed101["message"]
    assert ed101["inferred"] == ["triton~=3.8.0, implied by torch==2.14.1"]
    code, doc = check(tmp_path, index, ["torch==2.14.1", "bitsandbytes==0.44.1"], "--no-infer")
    assert not by_code(doc, "ED101")


def test_offline_from_the_cache_and_says_so(tmp_path: Path, index: IndexServer) -> None:
    check(tmp_path, index, ["torchvision==0.21.0", "bitsandbytes==0.44.1"])  # fills the cache
    code, doc = check(tmp_path, index, ["torchvision==0.21.0", "bitsandbytes==0.44.1"], "--offline")
    assert code == 1
    [ed101] = by_code(doc, "ED101")
    assert ed101["inferred"] == ["triton 3.2.0, implied by torch==2.6.0 ← torchvision==0.21.0"]
    assert "offline: used the metadata cache and the knowledge base only" in doc["notes"]
    # offline the releases are not searched: the rule's range stays, and the fix says why
    assert ed101["fixes"][0]["pins"] == {"bitsandbytes": ">=0.45.1"}
    assert "offline: releases not searched" in ed101["fixes"][0]["title"]
