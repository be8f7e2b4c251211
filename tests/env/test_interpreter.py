"""Probes of another interpreter run isolated: a project's csv.py/json.py is never imported; junk is bad input."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from envdoctor.env import interpreter, owners, snapshot
from envdoctor.env.hardware import Hardware
from envdoctor.errors import InputError
from envdoctor.fix import journal

PLANT = "import pathlib; pathlib.Path({marker!r}).write_text('imported')\n"


@pytest.fixture
def hostile_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder holds csv.py, json.py, os.py-like shadows and is also on PYTHONPATH relatively."""
    marker = tmp_path / "imported"
    for name in ("csv", "json", "importlib", "sitecustomize", "usercustomize"):
        (tmp_path / f"{name}.py").write_text(PLANT.format(marker=str(marker)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([".", "", os.environ.get("PYTHONPATH", "")]))
    return marker


def test_probes_never_import_the_current_folder(hostile_folder: Path) -> None:
    snap = snapshot.from_interpreter(sys.executable, Hardware())
    assert snap.python_version.startswith(f"{sys.version_info[0]}.{sys.version_info[1]}")
    assert owners.module_owners(sys.executable)  # answered, from the real importlib.metadata
    assert journal.interpreter_prefix(sys.executable) == os.path.realpath(sys.prefix)
    assert not hostile_folder.exists()


def test_absolute_pythonpath_entries_stay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), "."]))
    code = "print(sys.path[0] == {!r}, '' in sys.path, '.' in sys.path)".format(str(tmp_path))
    out = subprocess.run(interpreter.isolated(sys.executable, code), capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]


@pytest.mark.parametrize("output", ['{"python": 1}', "[1, 2]", "\\xff\\xfe not json", "[" * 50_000])
def test_an_interpreter_printing_junk_is_one_line_of_bad_input(tmp_path: Path, output: str) -> None:
    fake = tmp_path / "python"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stdin.read()\nsys.stdout.buffer.write(b'{output}')\n")
    fake.chmod(0o755)
    with pytest.raises(InputError, match="printed no envdoctor JSON") as caught:
        snapshot.from_interpreter(str(fake), Hardware())
    assert "\n" not in str(caught.value)
    assert owners.module_owners(str(fake)) == {}
