"""Release bisection over a loopback index of real wheels the test builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.surface.bisect import find_boundary
from envdoctor.surface.query import Query
from tests.helpers.index import IndexServer, isolated_pip_env
from tests.helpers.surface import Dist, Index

VERSIONS = ["1.0", "1.5", "2.0", "2.0.3", "2.1.0", "2.2", "3.0"]


def lib(version: str, yanked: bool = False) -> Dist:
    """``helper`` until 2.0.3 (deprecated in 2.0.3 for ``assist``), ``newer`` from 2.2, ``kw`` keyword from 2.0,
    ``middle`` only in 1.5 and 2.0, ``back`` in 1.5, 2.0 and again from 3.0."""
    parts = ["def assist(): ..."]
    if version in ("1.0", "1.5", "2.0", "2.0.3"):
        warn = ("    import warnings\n    warnings.warn(\"'helper' is deprecated, use 'assist' instead\")\n"
                if version == "2.0.3" else "    ...\n")
        parts.append("def helper():\n" + warn)
    if version in ("2.2", "3.0"):
        parts.append("def newer(): ...")
    if version in ("1.5", "2.0"):
        parts.append("def middle(): ...")
    if version in ("1.5", "2.0", "3.0"):
        parts.append("def back(): ...")
    parts.append("def run(x, kw=None): ..." if version >= "2.0" else "def run(x): ...")
    return Dist("lib", version, {"lib/__init__.py": "\n".join(parts) + "\n"}, yanked=yanked)


@pytest.fixture()
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    layout = Index(tmp_path / "index")
    for version in VERSIONS:
        layout.add(lib(version))
    layout.add(Dist("lib", "2.0.4", {"lib/__init__.py": "def run(x, kw=None): ...\n"}, yanked=True))
    layout.add(Dist("lib", "3.1rc1", {"lib/__init__.py": "def helper(): ...\n"}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def test_removed_name_boundary(index: IndexServer) -> None:
    boundary = find_boundary("lib", Query("lib", "helper"), around="3.0")
    assert boundary is not None
    assert (boundary.removed_in, boundary.last_with, boundary.present) == ("2.1.0", "2.0.3", ["<2.1.0"])
    assert boundary.successor == "assist"  # from 2.0.3's own deprecation warning
    assert "2.0.4" not in boundary.probed and "3.1rc1" not in boundary.probed  # yanked, pre-release
    assert boundary.probed["2.0.3"] is True and boundary.probed["2.1.0"] is False  # both neighbours read
    assert "removed in 2.1.0" in boundary.describe() and "up to 2.0.3" in boundary.describe()


def test_added_name_and_keyword_boundaries(index: IndexServer) -> None:
    added = find_boundary("lib", Query("lib", "newer"), around="1.5")
    assert added is not None and (added.added_in, added.first_with, added.present) == ("2.2", "2.2", [">=2.2"])
    keyword = find_boundary("lib", Query("lib", "run", kwarg="kw"), around="1.0")
    assert keyword is not None and keyword.added_in == "2.0"


@pytest.mark.parametrize("installed", ["2.1", "2.1.0+cu121", "2.1.0.dev0"])
def test_an_installed_release_spelled_otherwise_anchors_on_the_listed_one(index: IndexServer, installed: str) -> None:
    # a freeze's `2.1`, a local build, a dev build of the next release: all are 2.1.0 on the index
    boundary = find_boundary("lib", Query("lib", "helper"), around=installed)
    assert boundary is not None and (boundary.removed_in, boundary.last_with) == ("2.1.0", "2.0.3")
    assert installed not in boundary.probed  # read as 2.1.0, not as a release the index does not list


def test_on_list_keeps_what_it_cannot_place() -> None:
    from envdoctor.surface.bisect import on_list

    assert on_list("1.24", ["1.23.5", "1.24.0"]) == "1.24.0"
    assert on_list("2.4.0a0+07cecf4168.nv24.05", ["2.3.1", "2.4.0"]) == "2.4.0"
    assert on_list("2.4.0rc1", ["2.4.0rc1", "2.4.0"]) == "2.4.0rc1"  # listed as it is
    assert on_list("9.9", ["1.0"]) == "9.9" and on_list("not-a-version", ["1.0"]) == "not-a-version"


def test_reads_only_what_it_needs_and_caches(index: IndexServer) -> None:
    find_boundary("lib", Query("lib", "helper"), around="3.0")
    wheels_read = {path for path, _ in index.requests if path.endswith(".whl")}
    assert len(wheels_read) <= 5  # anchor, two ends, and a binary search over 7 releases
    assert all(rng is not None for path, rng in index.requests if path.endswith(".whl"))  # range requests
    before = len(index.requests)
    again = find_boundary("lib", Query("lib", "helper"), around="3.0")
    assert again is not None and again.removed_in == "2.1.0"
    assert not any(path.endswith(".whl") for path, _ in index.requests[before:])  # probes were cached
    offline = find_boundary("lib", Query("lib", "helper"), around="3.0", offline=True)
    assert offline is not None and offline.removed_in == "2.1.0"


def test_budget_bounds_probes(index: IndexServer) -> None:
    boundary = find_boundary("lib", Query("lib", "helper"), around="3.0", probe_budget=2)
    assert boundary is not None and boundary.removed_in is None and not boundary.complete


def test_present_everywhere(index: IndexServer) -> None:
    boundary = find_boundary("lib", Query("lib", "run"), around="3.0")
    assert boundary is not None and boundary.present == [">=0"] and boundary.removed_in is None


def test_a_name_that_came_and_went_between_the_ends(index: IndexServer) -> None:
    # absent from the anchor (3.0) and the oldest release (1.0): found by searching back from the anchor
    boundary = find_boundary("lib", Query("lib", "middle"), around="3.0")
    assert boundary is not None
    assert (boundary.added_in, boundary.removed_in, boundary.last_with) == ("1.5", "2.0.3", "2.0")
    assert boundary.present == [">=1.5,<2.0.3"] and boundary.complete
    assert find_boundary("lib", Query("lib", "never_there"), around="3.0").present == []


def test_a_name_removed_and_added_back_shows_both_ranges_only_when_asked_for_earlier(index: IndexServer) -> None:
    # 2.2 lacks `back`; 3.0 added it back, and 1.5-2.0 had it: code written for 2.0 fixes with <2.0.3
    later = find_boundary("lib", Query("lib", "back"), around="2.2")
    assert later is not None and later.present == [">=3.0"] and later.added_in == "3.0"
    both = find_boundary("lib", Query("lib", "back"), around="2.2", earlier=True)
    assert both is not None and both.complete
    assert both.present == [">=1.5,<2.0.3", ">=3.0"]
    assert (both.added_in, both.removed_in, both.last_with) == ("3.0", "2.0.3", "2.0")
    assert both.describe().startswith("`lib.back` is in lib>=1.5,<2.0.3 and lib>=3.0")


def test_an_unbisected_addition_is_not_claimed_for_the_oldest_release(index: IndexServer) -> None:
    boundary = find_boundary("lib", Query("lib", "middle"), around="3.0", probe_budget=6)
    assert boundary is not None and boundary.removed_in == "2.0.3" and boundary.added_in is None
    assert not boundary.complete
    assert "(from a release after 1.0: 2.0 has it, 1.0 does not)" in boundary.describe()


def test_an_edge_hidden_by_unreadable_releases_is_worded_from_the_first_release_with_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    base = "from dataclasses import dataclass\nfrom other import Base\n\n@dataclass\nclass C(Base):\n    a: int = 0\n"
    layout.add(Dist("lib2", "0.1", {"lib2/__init__.py": ""}))
    for version in ("1.0", "1.5"):  # a base class from another distribution: whether C takes `b` is unknown
        layout.add(Dist("lib2", version, {"lib2/__init__.py": base}))
    for version in ("2.0", "3.0"):
        layout.add(Dist("lib2", version, {"lib2/__init__.py": base + "    b: int = 0\n"}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        boundary = find_boundary("lib2", Query("lib2", "C", kwarg="b"), around="3.0")
    assert boundary is not None and not boundary.complete
    assert boundary.present == [">=2.0"] and boundary.first_with == "2.0" and boundary.added_in is None
    assert boundary.describe().startswith("`lib2.C(b=...)` is in lib2 2.0 and later")


def test_a_keyword_gone_again_behind_unreadable_releases_is_bounded_by_the_first_release_without_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Added in 2.0, unknown in 4.x (an opaque decorator), absent from 5.0: present >=2.0,<5.0, never "and later"."""
    layout = Index(tmp_path / "index")
    layout.add(Dist("lib3", "1.0", {"lib3/__init__.py": "class T:\n    def __init__(self, a): ...\n"}))
    for version in ("2.0", "3.0"):
        layout.add(Dist("lib3", version, {"lib3/__init__.py": "class T:\n    def __init__(self, a, beta=0): ...\n"}))
    for version in ("4.0", "4.1"):
        layout.add(Dist("lib3", version, {"lib3/__init__.py": "class T:\n    @magic\n    def __init__(self, a): ...\n"}))
    for version in ("5.0", "6.0"):
        layout.add(Dist("lib3", version, {"lib3/__init__.py": "class T:\n    def __init__(self, a): ...\n"}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        boundary = find_boundary("lib3", Query("lib3", "T", kwarg="beta"), around="6.0")
    assert boundary is not None and boundary.added_in == "2.0" and boundary.removed_in is None
    assert boundary.present == [">=2.0,<5.0"] and boundary.last_with == "3.0" and not boundary.complete
    assert boundary.describe().startswith("`lib3.T(beta=...)` is in lib3 2.0–3.0")


def test_a_middle_range_the_doubling_steps_jump_over_is_found_by_the_widest_gap(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    versions = [f"1.{minor}" for minor in range(40)]
    for minor, version in enumerate(versions):  # `mid` in 1.9-1.13 only: steps back from 1.39 probe 1.38..1.7, 1.0
        body = "def mid(): ...\n" if 9 <= minor <= 13 else "def other(): ...\n"
        layout.add(Dist("wide", version, {"wide/__init__.py": body}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        boundary = find_boundary("wide", Query("wide", "mid"))
    assert boundary is not None and (boundary.added_in, boundary.removed_in) == ("1.9", "1.14")
    assert boundary.present == [">=1.9,<1.14"]


def test_a_release_whose_read_failed_is_probed_again_not_kept_as_unknown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    for version in ("1.0", "2.0"):
        layout.add(Dist("flaky", version, {"flaky/__init__.py": "def gone(): ...\n"}))
    newest = layout.add(Dist("flaky", "3.0", {"flaky/__init__.py": "def other(): ...\n"}))
    held = newest.with_name(newest.name + ".held")
    newest.rename(held)  # the index lists 3.0, but reading its wheel fails (as a dropped connection does)
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        assert find_boundary("flaky", Query("flaky", "gone"), around="3.0") is None
        held.rename(newest)
        boundary = find_boundary("flaky", Query("flaky", "gone"), around="3.0")
    assert boundary is not None and boundary.removed_in == "3.0" and boundary.last_with == "2.0"


def test_first_true_reads_back_from_the_newest_and_bisects_the_edge() -> None:
    from envdoctor.surface.bisect import first_true

    versions = [f"1.{i}" for i in range(40)]
    asked: list[int] = []

    def from_index(edge: int):  # type: ignore[no-untyped-def]
        def status(i: int) -> bool:
            asked.append(i)
            return i >= edge
        return status

    assert first_true(versions, from_index(33)) == "1.33"
    assert min(asked) >= 39 - 8  # the doubling steps stopped at the first release without it
    assert first_true(versions, from_index(0)) == "1.0"  # every release
    assert first_true(versions, from_index(40)) is None  # not even the newest
    assert first_true(versions, lambda i: None) is None  # unknown
    assert first_true([], from_index(0)) is None
