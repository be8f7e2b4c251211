"""Replay of an unchanged `envdoctor check --no-project`: the real console entry in subprocesses,
against a real extra ``sys.path`` folder whose distributions the test adds and removes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envdoctor.cli import replay
from envdoctor.env import index
from envdoctor.env.snapshot import Snapshot
from envdoctor.env.target import is_own

CHECK = ("check", "--no-project", "--python", sys.executable, "--select", "ED001")


def add_distribution(site: Path, name: str, requires: str | None = None) -> Path:
    """A real installed-looking ``.dist-info`` folder in ``site``."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
    if requires:
        lines.append(f"Requires-Dist: {requires}")
    (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (info / "RECORD").write_text(f"{info.name}/METADATA,,\n", encoding="utf-8")
    return info


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An extra folder on the checked interpreter's ``sys.path`` (through PYTHONPATH)."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(folder))
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return folder


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The console entry as `python -m envdoctor` runs it."""
    return subprocess.run([sys.executable, "-m", "envdoctor", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def entries() -> list[Path]:
    return sorted(Path(replay.cache_folder()).glob("*.json"))


def mark(entry: Path, text: str) -> None:
    """Put ``text`` in place of the recorded answer, so that a replay shows itself."""
    data = json.loads(entry.read_text(encoding="utf-8"))
    data["text"] = text
    entry.write_text(json.dumps(data), encoding="utf-8")


def test_an_unchanged_environment_replays_the_recorded_answer_and_code(site: Path) -> None:
    add_distribution(site, "needs-missing", "absent-requirement>=1")
    first = run(*CHECK)
    assert first.returncode == 1 and "absent-requirement" in first.stdout
    [entry] = entries()
    assert json.loads(entry.read_text(encoding="utf-8"))["code"] == 1
    mark(entry, "REPLAYED")
    second = run(*CHECK)
    assert (second.stdout, second.returncode) == ("REPLAYED\n", 1)


def test_an_installed_or_removed_distribution_is_a_miss(site: Path) -> None:
    assert run(*CHECK).returncode == 0
    [entry] = entries()
    mark(entry, "REPLAYED")
    info = add_distribution(site, "needs-missing", "absent-requirement>=1")
    after_install = run(*CHECK)
    assert after_install.returncode == 1 and "REPLAYED" not in after_install.stdout
    mark(entry, "REPLAYED")
    for path in info.iterdir():
        path.unlink()
    info.rmdir()
    after_removal = run(*CHECK)
    assert after_removal.returncode == 0 and "REPLAYED" not in after_removal.stdout


def test_metadata_edited_in_place_is_a_miss(site: Path) -> None:
    info = add_distribution(site, "needs-missing")
    assert run(*CHECK).returncode == 0
    [entry] = entries()
    mark(entry, "REPLAYED")
    metadata = info / "METADATA"
    metadata.write_text(metadata.read_text(encoding="utf-8") + "Requires-Dist: absent-requirement\n",
                        encoding="utf-8")
    os.utime(metadata, ns=(time.time_ns(), time.time_ns() + 10**9))  # a coarse clock could hide the edit
    edited = run(*CHECK)
    assert edited.returncode == 1 and "REPLAYED" not in edited.stdout


@pytest.mark.parametrize("change", ["expired", "package", "machine", "format"])
def test_an_entry_whose_other_inputs_changed_is_a_miss(site: Path, change: str) -> None:
    assert run(*CHECK).returncode == 0
    [entry] = entries()
    data = json.loads(entry.read_text(encoding="utf-8"))
    data["text"] = "REPLAYED"
    data[{"expired": "expires"}.get(change, change)] = {
        "expired": time.time() - 1, "package": "another build", "machine": ["another boot", None],
        "format": replay.FORMAT + 1}[change]
    entry.write_text(json.dumps(data), encoding="utf-8")
    assert "REPLAYED" not in run(*CHECK).stdout


def test_another_command_line_environment_or_no_cache_never_replays(site: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(*CHECK).returncode == 0
    [entry] = entries()
    mark(entry, "REPLAYED")
    assert "REPLAYED" not in run(*CHECK, "--format", "json").stdout
    assert "REPLAYED" not in run(*CHECK, "--no-cache").stdout
    monkeypatch.setenv("ENVDOCTOR_SOME_SETTING", "1")
    assert "REPLAYED" not in run(*CHECK).stdout
    monkeypatch.delenv("ENVDOCTOR_SOME_SETTING")
    assert run(*CHECK).stdout == "REPLAYED\n"


def test_only_an_armed_process_records(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay, "_armed", [])
    replay.record("text", 0, sys.executable, [], None)
    assert entries() == []
    replay.arm(list(CHECK))
    replay.record("text", 0, sys.executable, [], None)
    assert len(entries()) == 1
    assert replay.answer(list(CHECK)) == ("text", 0)


@pytest.mark.parametrize(("argv", "expected"), [
    (["check", "--no-project"], True),
    (["check", "--no-project", "--format", "json"], True),
    (["check"], False),
    (["check", "--no-project", "--env", "requirements.txt"], False),
    (["check", "--no-project", "--env=requirements.txt"], False),
    (["check", "--no-project", "--no-cache"], False),
    (["check", "--no-project", "--help"], False),
    (["explain", "--no-project"], False),
    ([], False),
])
def test_eligible_command_lines(argv: list[str], expected: bool) -> None:
    assert replay.eligible(argv) is expected


def test_own_interpreter_only() -> None:
    live = Snapshot(source="live", python_version="3.11.7", executable=sys.executable)
    assert is_own(live)
    assert not is_own(Snapshot(source="file:requirements.txt", python_version="3.11.7"))
    assert not is_own(Snapshot(source="live", python_version="3.11.7", executable=None))


def test_prune_keeps_the_newest_entries(site: Path) -> None:
    folder = Path(replay.cache_folder())
    folder.mkdir(parents=True)
    for number in range(replay.KEEP_ENTRIES + 3):
        path = folder / f"{number:03}.json"
        path.write_text("{}", encoding="utf-8")
        os.utime(path, ns=(number * 10**9, number * 10**9))
    replay._prune(str(folder))
    kept = sorted(p.name for p in folder.iterdir())
    assert len(kept) == replay.KEEP_ENTRIES and kept[0] == "003.json"


def test_index_pages_bound_the_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "_valid_until", [])
    assert index.pages_valid_until() is None
    before = time.time()
    index._keep_page("file:///simple/x/", [])  # a local page: the next run reads it again
    assert before <= (index.pages_valid_until() or 0) <= time.time()
    index._keep_page("https://pypi.org/simple/x/", [])  # kept: read again after PAGE_TTL_S
    monkeypatch.setattr(index, "_valid_until", [])
    assert index._cached_page("https://pypi.org/simple/x/") == []
    written = index._page_path("https://pypi.org/simple/x/").stat().st_mtime
    assert index.pages_valid_until() == written + index.PAGE_TTL_S
