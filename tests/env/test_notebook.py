"""Kernel detection from real process command lines and parents (this test process and a child)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from envdoctor.env import notebook


def test_kernel_command_lines_are_told_from_others() -> None:
    assert notebook.is_kernel_cmdline(["/v/bin/python", "-m", "ipykernel_launcher", "-f", "k.json"])
    assert notebook.is_kernel_cmdline(["/usr/bin/python3", "/usr/local/bin/colab_kernel_launcher.py"])
    assert notebook.is_kernel_cmdline(["python", "-m", "ipykernel", "-f", "k.json"])
    assert not notebook.is_kernel_cmdline(["/v/bin/python", "-m", "pytest", "-q"])


def test_a_child_of_a_kernel_finds_it_and_its_venv_python(tmp_path: os.PathLike[str]) -> None:
    """A real process whose command line runs ``ipykernel_launcher`` spawns a child that looks up."""
    launcher = os.path.join(str(tmp_path), "ipykernel_launcher.py")
    with open(launcher, "w", encoding="utf-8") as handle:
        handle.write("import subprocess, sys\n"
                     "code = 'from envdoctor.env import notebook; k = notebook.kernel(); print(k.pid, k.python)'\n"
                     "out = subprocess.run(['/bin/sh', '-c', f'{sys.executable} -c \"{code}\"'], capture_output=True,"
                     " text=True)\nprint(out.stdout.strip(), out.stderr.strip())\n")
    proc = subprocess.run([sys.executable, launcher], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    pid, python = proc.stdout.split()[:2]
    assert int(pid) > 1 and python == sys.executable


def test_hints_use_bang_and_yes_only_in_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in notebook.RUNTIME_MARKERS:
        monkeypatch.delenv(key, raising=False)
    assert notebook.command_line(["envdoctor", "fix", "--apply"], confirm=True) == "envdoctor fix --apply"
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-20260101")
    assert notebook.command_line(["envdoctor", "fix", "--apply"], confirm=True) == "!envdoctor fix --apply --yes"
    assert notebook.command_line(["envdoctor", "check"]) == "!envdoctor check"
