"""The cross-package check's helpers: stand-in releases, scripts, and references that left with their files."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.crosscheck import runs_as_script, spells_module, stand_in, user_fixed_in
from envdoctor.surface.query import Query, Reference
from envdoctor.surface.sources import InstalledSource
from tests.helpers.index import IndexServer, isolated_pip_env
from tests.helpers.surface import Dist, Index, install

RELEASED = ["2.3.1", "2.4.0", "2.4.1", "5.0.0rc3"]


@pytest.mark.parametrize(("version", "answer"), [
    ("2.4.1+cu121", "2.4.1"),  # a local build of a release: that release
    ("2.4.0a0+07cecf4168.nv24.05", "2.4.0"),  # a pre-release build: the release it leads to
    ("2.5.0.dev0", "2.4.1"),  # ... or, not out yet, the newest final release before it
    ("2.4.0", "2.4.0"),
    ("2.4", "2.4.0"),  # the same version, spelt shorter
    ("5.0.0rc3", "5.0.0rc3"),
    ("2.9.9", None),  # a final release the index does not list: no stand-in
    ("2.0.0.dev1", None),  # nothing before it
    ("not-a-version", None),
])
def test_stand_in_release(version: str, answer: str | None) -> None:
    assert stand_in(version, RELEASED) == answer


def release(tmp_path: Path, files: dict[str, str], name: str = "tool") -> ReleaseSymbols:
    info = install(tmp_path / "site", Dist(name, "1.0", files))
    return ReleaseSymbols.open(InstalledSource(name, "1.0", info))


def test_a_module_with_a_main_block_runs_as_a_script(tmp_path: Path) -> None:
    found = release(tmp_path, {"tool/__init__.py": "", "tool/convert.py": "import x\n\nif __name__ == '__main__':\n"
                               "    main()\n", "tool/lib.py": "def f():\n    if __name__ == '__main__': pass\n"})
    assert runs_as_script(found, "tool/convert.py") is True
    assert runs_as_script(found, "tool/lib.py") is False  # indented: not the module's own block
    assert runs_as_script(found, "tool/missing.py") is False


def test_spells_module(tmp_path: Path) -> None:
    found = release(tmp_path, {"tool/__init__.py": "from other.api import thing\n", "tool/b.py": "x = 1\n"})
    assert spells_module(found, "other.api") is True
    assert spells_module(found, "other.gone") is False


@pytest.fixture()
def moved_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    """``user`` 1.0-1.1 import ``prov.api.old`` from user/agent.py; 1.2 deletes the file."""
    layout = Index(tmp_path / "index")
    old = "from prov.api import old\n"
    layout.add(Dist("user", "1.0", {"user/__init__.py": "", "user/agent.py": old}))
    layout.add(Dist("user", "1.1", {"user/__init__.py": "", "user/agent.py": old}))
    layout.add(Dist("user", "1.2", {"user/__init__.py": ""}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def test_a_release_without_the_referencing_file_no_longer_makes_the_reference(
        moved_index: IndexServer, tmp_path: Path) -> None:
    ref = Reference(Query("prov.api", "old"), "user/agent.py", 1)
    assert user_fixed_in("user", "1.0", [ref], (moved_index.url,), offline=False) == "1.2"


def test_a_reference_that_moved_to_another_file_is_not_called_fixed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    old = "from prov.api import old\n"
    layout.add(Dist("user", "1.0", {"user/__init__.py": "", "user/agent.py": old}))
    layout.add(Dist("user", "1.1", {"user/__init__.py": "", "user/elsewhere.py": old}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        ref = Reference(Query("prov.api", "old"), "user/agent.py", 1)
        assert user_fixed_in("user", "1.0", [ref], (server.url,), offline=False) is None


def test_the_search_back_fills_the_gaps_a_doubling_step_jumped() -> None:
    from envdoctor.surface.crosscheck import MAX_BACK_STEPS, MAX_FILL_PROBES, _still_referencing

    asked: list[int] = []

    def window(low: int, high: int):  # type: ignore[no-untyped-def]
        def still_references(index: int) -> bool:
            asked.append(index)
            return low <= index <= high
        return still_references

    # releases 10-13 of 40 made the reference: the doubling steps read 38, 37, 35, 31, 23, 7, 0
    found = _still_referencing(39, window(10, 13))
    assert found is not None and 10 <= found <= 13
    assert not any(10 <= i <= 13 for i in asked[:7])  # the doubling alone would have missed them
    asked.clear()
    assert _still_referencing(39, window(-1, -1)) is None  # none did: bounded
    assert len(asked) <= MAX_BACK_STEPS + MAX_FILL_PROBES
    assert _still_referencing(39, window(38, 38)) == 38  # the newest but one: the first step


def test_a_file_that_runs_as_a_script_does_not_make_an_import_time_reference(tmp_path: Path) -> None:
    from envdoctor.surface.crosscheck import makes_anywhere

    query = Query("prov", "gone")
    cases = (({"user/__init__.py": "", "user/mod.py": "from prov import gone\n"}, True),
             ({"user/__init__.py": "", "user/convert.py": "from prov import gone\n"
               "if __name__ == '__main__':\n    gone()\n"}, False),
             ({"user/__init__.py": "try:\n    from prov import gone\nexcept ImportError:\n    gone = None\n"}, False),
             ({"user/__init__.py": "from prov import kept  # gone\n"}, False))
    for number, (files, expected) in enumerate(cases):
        assert makes_anywhere(release(tmp_path / str(number), files, "user"), query) is expected
