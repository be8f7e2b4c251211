"""Real wheels and real venvs for the fix/rollback/lock tests (no network).

Stand-in wheels are built with ``wheel.wheelfile.WheelFile`` (the `wheel`
project's writer, which computes RECORD), with real METADATA, so pip installs
them and envdoctor's probe reads their versions and requirements.  The
stand-in bitsandbytes 0.44.1 really runs ``import triton.ops`` at import, and the
stand-in triton 3.2.0 really lacks ``triton/ops``: the seeds' breakage is real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from wheel.wheelfile import WheelFile

ENVDOCTOR = [sys.executable, "-m", "envdoctor"]


def build_wheel(folder: Path, name: str, version: str, files: dict[str, str],
                requires: tuple[str, ...] = ()) -> Path:
    """Write ``name-version-py3-none-any.whl`` holding ``files`` into ``folder``."""
    dist = name.replace("-", "_")
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    info = f"{dist}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
                *(f"Requires-Dist: {r}" for r in requires)]
    with WheelFile(path, "w") as whl:
        for rel, text in files.items():
            whl.writestr(rel, text)
        whl.writestr(f"{info}/METADATA", "\n".join(metadata) + "\n\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: envdoctor-tests\n"
                                      "Root-Is-Purelib: true\nTag: py3-none-any\n")
    return path


def build_seed_wheels(folder: Path) -> Path:
    """The seeds' packages as stand-ins: bitsandbytes 0.44.1/0.45.1, triton 3.1.0/3.2.0, numpy, scipy."""
    folder.mkdir(parents=True, exist_ok=True)
    build_wheel(folder, "triton", "3.2.0", {"triton/__init__.py": "__version__ = '3.2.0'\n"})
    build_wheel(folder, "triton", "3.1.0", {"triton/__init__.py": "__version__ = '3.1.0'\n",
                                            "triton/ops/__init__.py": "matmul_perf_model = None\n"})
    build_wheel(folder, "bitsandbytes", "0.44.1", {
        "bitsandbytes/__init__.py": "import triton.ops  # as bitsandbytes 0.44.1 does\n__version__ = '0.44.1'\n"})
    build_wheel(folder, "bitsandbytes", "0.45.1", {
        "bitsandbytes/__init__.py": "__version__ = '0.45.1'  # vendors triton.ops\n"})
    return folder


def pip_env(wheels: Path, cache: Path | None = None) -> dict[str, str]:
    """The environment the tests give pip: the local wheel folder only, no index, no config; with
    ``cache``, envdoctor's own cache there (not the session's, which other tests filled with the
    real metadata of the same pins)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    if cache is not None:
        env["ENVDOCTOR_CACHE_DIR"] = str(cache)
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels), PIP_CONFIG_FILE=os.devnull,
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    return env


def make_venv(path: Path) -> Path:
    """A throwaway venv with pip (from ensurepip, offline); returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    return path / "bin" / "python"


def copy_venv(template: Path, path: Path) -> Path:
    """A copy of a template venv (faster than creating one); returns its python."""
    shutil.copytree(template, path, symlinks=True)
    return path / "bin" / "python"


def pip(python: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the venv's pip; fail the test with pip's output if it fails."""
    proc = subprocess.run([str(python), "-m", "pip", *args], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def freeze(python: Path, env: dict[str, str]) -> list[str]:
    """``pip freeze --all`` lines of the venv."""
    return pip(python, env, "freeze", "--all").stdout.splitlines()


def envdoctor(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the envdoctor CLI in a subprocess (stdin is not a terminal)."""
    return subprocess.run([*ENVDOCTOR, *args], env=env, capture_output=True, text=True, cwd=cwd,
                          stdin=subprocess.DEVNULL, check=False)
