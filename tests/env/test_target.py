"""The live target is the environment the user is in: VIRTUAL_ENV, CONDA_PREFIX, then `python` on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envdoctor.env.target import active_python
from tests.helpers.core import envdoctor


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real venv (no pip: the probe needs the standard library only)."""
    folder = tmp_path_factory.mktemp("venv") / "project-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, capture_output=True)
    return folder


def activated(venv: Path, **extra: str) -> dict[str, str]:
    """What `source venv/bin/activate` sets."""
    return {"VIRTUAL_ENV": str(venv), "PATH": os.pathsep.join([str(venv / "bin"), os.environ["PATH"]]), **extra}


def target(*args: str, env: dict[str, str]) -> dict[str, object]:
    result = envdoctor("check", "--no-project", "--offline", "--format", "json", *args, env=env)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert isinstance(doc["target"], dict)
    return doc["target"]


def test_activated_venv_is_checked_and_named_in_every_format(venv: Path) -> None:
    assert target(env=activated(venv))["interpreter"] == str(venv / "bin" / "python")
    text = envdoctor("check", "--no-project", "--offline", env=activated(venv))
    assert f"live ({venv / 'bin' / 'python'})" in text.stdout.splitlines()[0]
    assert "VIRTUAL_ENV=" in text.stdout
    sarif = json.loads(envdoctor("check", "--no-project", "--offline", "--format", "sarif",
                                 env=activated(venv)).stdout)
    assert sarif["runs"][0]["properties"]["target"]["interpreter"] == str(venv / "bin" / "python")


def test_python_option_overrides_the_active_environment(venv: Path) -> None:
    assert target("--python", sys.executable, env=activated(venv))["interpreter"] == sys.executable


def test_conda_prefix_then_path(venv: Path) -> None:
    conda = {"CONDA_PREFIX": str(venv), "PATH": os.environ["PATH"]}
    assert active_python(conda) == (str(venv / "bin" / "python"), f"CONDA_PREFIX={venv}")
    on_path = {"PATH": os.pathsep.join([str(venv / "bin"), os.environ["PATH"]])}
    assert active_python(on_path) == (str(venv / "bin" / "python"), "the `python` on PATH")
    assert target(env={**on_path, "VIRTUAL_ENV": ""})["interpreter"] == str(venv / "bin" / "python")


def test_own_environment_is_checked_in_process() -> None:
    own = {"VIRTUAL_ENV": sys.prefix, "PATH": os.environ["PATH"]}
    assert active_python(own) is None
    assert active_python({"PATH": str(Path(sys.executable).parent)}) is None
    own_target = target(env={"VIRTUAL_ENV": sys.prefix})["interpreter"]
    assert isinstance(own_target, str) and Path(own_target).parent == Path(sys.executable).parent
