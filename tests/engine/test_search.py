"""The fix search names versions: the nearest release inside the rule's range that fits the target's
Python and everything that stays, against a loopback index; both sides of each boundary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.core import envdoctor
from tests.helpers.index import IndexServer, Release, build_index, metadata_text, real_metadata

LINUX = "py3-none-manylinux_2_24_x86_64"


def release(name: str, version: str, requires: list[str] = (), python: str | None = None, **kw) -> Release:
    return Release(name, version, metadata_text(name, version, list(requires), python), bulk=0, **kw)


def check(tmp_path: Path, url: str, lines: list[str], *extra: str, python: str = "3.11") -> tuple[int, dict]:
    path = tmp_path / "freeze.txt"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    env = {"ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache"), "PIP_INDEX_URL": url}
    proc = envdoctor("check", "--env", str(path), "--python-version", python, "--platform", "linux_x86_64",
                     "--no-project", "--format", "json", *extra, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def fixes_of(doc: dict, code: str) -> list[dict]:
    return [fix for f in doc["findings"] if f["code"] == code for fix in f["fixes"]]


@pytest.fixture()
def served(tmp_path: Path):
    def serve(releases: list[Release]) -> IndexServer:
        build_index(tmp_path / "idx", releases)
        return IndexServer(tmp_path / "idx")
    return serve


def test_nearest_release_in_range_that_fits_python_and_what_stays(tmp_path: Path, served) -> None:
    releases = [release("lib", "1.0"), release("lib", "2.0", python=">=3.12"), release("lib", "2.1"),
                release("lib", "2.2"), release("lib", "3.0rc1"), release("lib", "2.1.1", yanked=True),
                release("app", "1.0", ["lib>=2.0"]), release("other", "1.0", ["lib!=2.1"])]
    with served(releases) as server:
        code, doc = check(tmp_path, server.url, ["app==1.0", "lib==1.0", "other==1.0"], "--select", "ED001")
        [move_lib, *_] = fixes_of(doc, "ED001")
        # 2.0 needs Python 3.12, 2.1 is excluded by other's requirement, 2.1.1 is yanked, 3.0rc1 is a pre-release
        assert move_lib["pins"] == {"lib": "==2.2"} and move_lib["within"] == {"lib": ">=2.0"}
        assert "1.0 → 2.2" in move_lib["title"]
        code, doc = check(tmp_path, server.url, ["app==1.0", "lib==1.0", "other==1.0"], "--select", "ED001",
                          python="3.12")
        assert fixes_of(doc, "ED001")[0]["pins"] == {"lib": "==2.0"}  # the other side of Requires-Python


def test_a_search_that_finds_nothing_says_what_it_searched(tmp_path: Path, served) -> None:
    releases = [release("lib", "1.0"), release("lib", "2.0", python=">=3.12"),
                release("app", "1.0", ["lib>=2.0"]), release("app", "0.9", ["lib>=2.0"])]
    with served(releases) as server:
        code, doc = check(tmp_path, server.url, ["app==1.0", "lib==1.0"], "--select", "ED001")
    assert code == 1
    titles = [fix["title"] for fix in fixes_of(doc, "ED001")]
    assert any(t.startswith("no lib release fits: searched 1 of 1 lib releases in >=2.0 on ") and
               "for Python 3.11.0 on Linux x86_64; nearest: 2.0 requires Python >=3.12" in t for t in titles)
    assert any(t.startswith("no app release fits: searched 1 of 1 app releases other than 1.0") for t in titles), titles
    assert all(not fix["pins"] for fix in fixes_of(doc, "ED001"))


def test_python_fix_names_the_release_that_supports_the_target(tmp_path: Path, served) -> None:
    releases = [release("lib", "1.0", python="<3.13"), release("lib", "1.1", python="<3.13"),
                release("lib", "1.2", python=">=3.9")]
    with served(releases) as server:
        code, doc = check(tmp_path, server.url, ["lib==1.0"], "--select", "ED002", python="3.13")
    assert code == 1
    assert fixes_of(doc, "ED002")[0]["pins"] == {"lib": "==1.2"}


def test_both_sides_of_a_vllm_torch_mismatch_with_their_pins(tmp_path: Path, served) -> None:
    releases = [Release(n, v, real_metadata(n, v), tag=LINUX, bulk=0)
                for n, v in [("vllm", "0.8.5"), ("vllm", "0.9.0"), ("torch", "2.6.0"), ("torch", "2.7.0")]]
    with served(releases) as server:
        code, doc = check(tmp_path, server.url, ["vllm==0.8.5", "torch==2.7.0"], "--select", "ED120",
                          "--no-infer", python="3.12")
        assert code == 1
        own = fixes_of(doc, "ED120")
        # the newest vllm whose metadata pins torch==2.7.0 (0.9.0 here; 0.9.2 in the shipped release facts)
        assert own[0]["pins"] == {"vllm": "==0.9.2"}
        assert own[1]["pins"] == {"torch": "==2.6.0"}  # the torch vllm 0.8.5 pins
        assert "moves torch: a lock for your own machine, no platform detected" in own[1]["title"]
        # on Colab (google-colab in the freeze) torch is the platform's: only vllm moves
        code, doc = check(tmp_path, server.url, ["vllm==0.8.5", "torch==2.7.0", "google-colab==1.0.0"],
                          "--select", "ED120", "--no-infer", python="3.12")
        colab = fixes_of(doc, "ED120")
        assert colab[0]["pins"] == {"vllm": "==0.9.2"} and "the platform owns it" in colab[0]["title"]
        assert not any(fix["pins"].get("torch") for fix in colab)
        # --keep does the same on your own machine
        code, doc = check(tmp_path, server.url, ["vllm==0.8.5", "torch==2.7.0"], "--select", "ED120",
                          "--no-infer", "--keep", "torch", python="3.12")
        assert not any(fix["pins"].get("torch") for fix in fixes_of(doc, "ED120"))


def test_what_the_moving_package_implies_moves_along_together(tmp_path: Path, served) -> None:
    # app pins core and ext exactly; ext pins core too: moving app moves both, and the old ext (implied by
    # the old app) does not hold the new core back
    releases = [release("app", "1.0", ["core==1.0", "ext==1.0"]), release("app", "2.0", ["core==2.0", "ext==2.0"]),
                release("core", "1.0"), release("core", "2.0"),
                release("ext", "1.0", ["core==1.0"]), release("ext", "2.0", ["core==2.0"]),
                release("needs", "1.0", ["app>=2.0"])]
    with served(releases) as server:
        code, doc = check(tmp_path, server.url, ["app==1.0", "needs==1.0"], "--select", "ED001")
    move = next(fix for fix in fixes_of(doc, "ED001") if "app" in fix["pins"])
    assert move["pins"] == {"app": "==2.0"}
    assert "core 1.0 → 2.0" in move["title"] and "ext 1.0 → 2.0" in move["title"]


def test_an_sdist_without_metadata_is_taken_only_when_no_release_with_metadata_fits(tmp_path: Path, served) -> None:
    sdist = {"tag": "sdist", "metadata_file": False}  # flash-attn's and deepspeed's: requirements known once built
    releases = [release("lib", "1.0", **sdist), release("lib", "2.0", **sdist), release("lib", "2.1", **sdist),
                release("app", "1.0", ["lib>=2.0"])]
    with served(releases) as server:
        _, doc = check(tmp_path, server.url, ["app==1.0", "lib==1.0"], "--select", "ED001")
    [move_lib, *_] = fixes_of(doc, "ED001")
    assert move_lib["pins"] == {"lib": "==2.0"} and "not checked" in move_lib["title"]
    (tmp_path / "b").mkdir()
    with served([*releases, release("lib", "2.2")]) as server:  # a wheel whose metadata says it fits
        _, doc = check(tmp_path / "b", server.url, ["app==1.0", "lib==1.0"], "--select", "ED001")
    [move_lib, *_] = fixes_of(doc, "ED001")
    assert move_lib["pins"] == {"lib": "==2.2"} and "not checked" not in move_lib["title"]
