"""Which releases say an error message: its fixed words searched in real wheels on a loopback index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from envdoctor.surface.phrases import phrase_boundary, windows
from tests.helpers.index import IndexServer
from tests.helpers.surface import Dist, serve

REFUSAL = 'raise RuntimeError(f"Dataset scripts are no longer supported, but found {filename}")\n'
ASKING = ('raise ValueError(f"The repository for {repo} contains custom code which must be executed to correctly "\n'
          '                 f"load the dataset. You can inspect the repository content at {url}.")\n')
VERSIONS = ["0.9", "1.0", "1.5", "2.0", "2.1", "3.0", "3.1"]


def loader(version: str) -> Dist:
    """``ASKING`` in 1.5-2.1 (gone with loading scripts in 3.0), ``REFUSAL`` from 3.0; an old error in all."""
    body = "def load(filename, repo, url):\n    raise KeyError('unknown split given to the loader')\n"
    if version in ("1.5", "2.0", "2.1"):
        body += "def ask(repo, url):\n    " + ASKING  # split over two literals, as sources write it
    if version in ("3.0", "3.1"):
        body += "def refuse(filename):\n    " + REFUSAL
    return Dist("loader", version, {"loader/__init__.py": "", "loader/load.py": body})


@pytest.fixture()
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IndexServer]:
    yield from serve(tmp_path, monkeypatch, (loader(version) for version in VERSIONS))


def test_windows_leave_out_what_varies() -> None:
    runs = windows("RuntimeError: Dataset scripts are no longer supported, but found code_generation_lite.py")
    assert runs[0] == "Dataset scripts are no longer" and all("code_generation" not in r for r in runs)
    assert not any("winogrande" in r or "hf.co" in r for r in windows(
        "ValueError: The repository for 'winogrande' contains custom code, see https://hf.co/datasets/winogrande"))
    assert windows("KeyError: 'model'") == ()  # too few fixed words to be evidence


def test_the_first_release_that_says_the_message(index: IndexServer) -> None:
    found = phrase_boundary("loader", "RuntimeError: Dataset scripts are no longer supported, but found x.py")
    assert found is not None and (found.added_in, found.last_without, found.removed_in) == ("3.0", "2.1", None)
    installed = phrase_boundary("loader", "Dataset scripts are no longer supported, but found y.py", around="3.0")
    assert installed is not None and installed.added_in == "3.0"
    wheels = {p for p, _ in index.requests if p.endswith(".whl")}
    again = phrase_boundary("loader", "RuntimeError: Dataset scripts are no longer supported, but found z.py")
    assert again == found and {p for p, _ in index.requests if p.endswith(".whl")} == wheels  # probes cached


def test_a_message_that_came_and_went_before_the_newest_release(index: IndexServer) -> None:
    message = ("ValueError: The repository for winogrande contains custom code which must be executed to correctly "
               "load the dataset. You can inspect the repository content at https://hf.co/datasets/winogrande.")
    found = phrase_boundary("loader", message)
    assert found is not None and (found.added_in, found.last_without, found.removed_in) == ("1.5", "1.0", "3.0")


def test_messages_every_release_or_no_release_says_give_no_boundary(index: IndexServer) -> None:
    always = phrase_boundary("loader", "KeyError: unknown split given to the loader")
    assert always is not None and always.added_in is None
    assert phrase_boundary("loader", "RuntimeError: nothing in this package ever says these words") is None
    # the installed release does not say it: it did not raise it
    assert phrase_boundary("loader", "Dataset scripts are no longer supported, but found y.py", around="2.0") is None
