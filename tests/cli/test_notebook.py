"""The Colab flow in a real notebook kernel, driven by nbclient.

The kernel runs on its own venv's interpreter (``KVENV/bin/python``), which holds the seeds'
broken pair as stand-in wheels with real dist-info: bitsandbytes 0.44.1 (its ``__init__`` loads a
real shared object with ctypes, then runs ``import triton.ops``, as 0.44.1 does) and triton
3.2.0 (no ``triton/ops``).  ipykernel itself is not installed in that venv (the test runs from a
fresh clone without network): the kernelspec starts a two-line ``ipykernel_launcher.py`` that
appends the test interpreter's ``sys.path`` *after* the venv's own site-packages, inside the
kernel process only, so the venv's packages win and pip in the venv never sees ipykernel.
``!envdoctor`` runs the tool's own interpreter (as a PATH entry would), which differs from the
kernel's: envdoctor must find the kernel among its parent processes and fix *that* environment.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.fix import build_seed_wheels, build_wheel, freeze, make_venv, pip, pip_env

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[2]
CELL_TIMEOUT_S = 180


def _shared_object() -> bytes:
    """The bytes of a real, small shared object of this interpreter's standard library."""
    dynload = Path(sysconfig.get_config_var("DESTSHARED") or sysconfig.get_path("platstdlib"))
    candidates = sorted(dynload.glob("*.so"), key=lambda p: p.stat().st_size)
    if not candidates:
        pytest.skip(f"no shared objects in {dynload} to build the stand-in bitsandbytes library from")
    return candidates[0].read_bytes()


def _wheels(folder: Path) -> Path:
    build_seed_wheels(folder)
    lib = _shared_object()
    load = ("import ctypes as _c, os as _o\n"
            "_lib = _c.CDLL(_o.path.join(_o.path.dirname(__file__), 'libbitsandbytes_cpu.so'))\n")
    for version, tail in (("0.44.1", "import triton.ops  # as bitsandbytes 0.44.1 does\n"), ("0.45.1", "")):
        (folder / f"bitsandbytes-{version}-py3-none-any.whl").unlink()
        build_wheel(folder, "bitsandbytes", version, {
            "bitsandbytes/__init__.py": load + tail + f"__version__ = '{version}'\n",
            "bitsandbytes/libbitsandbytes_cpu.so": lib})  # type: ignore[dict-item]
    return folder


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    wheels = _wheels(tmp_path / "wheels")
    env = pip_env(wheels)
    python = make_venv(tmp_path / "kvenv")
    pip(python, env, "install", "bitsandbytes==0.44.1", "triton==3.2.0")
    shim = tmp_path / "shim" / "ipykernel_launcher.py"
    shim.parent.mkdir()
    shim.write_text(f"import sys\nsys.path += {[p for p in sys.path if p]!r}\n"
                    "from ipykernel import kernelapp\nkernelapp.launch_new_instance()\n", encoding="utf-8")
    spec = tmp_path / "jupyter" / "kernels" / "kvenv"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), str(shim), "-f", "{connection_file}"], "display_name": "kvenv",
        "language": "python"}), encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "envdoctor"
    tool.write_text(f"#!/bin/sh\nexec {sys.executable} -m envdoctor \"$@\"\n", encoding="utf-8")
    tool.chmod(0o755)
    for key, value in env.items():
        if key.startswith("PIP_"):
            monkeypatch.setenv(key, value)
    for key in ("VIRTUAL_ENV", "CONDA_PREFIX", "JPY_PARENT_PID", "COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    return {"python": python, "env": env, "tmp": tmp_path}


def _run(cells: list[str], tmp: Path) -> list[str]:
    """Execute ``cells`` in one fresh kernel; each cell's text output (stdout, stderr, errors)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = nbclient.NotebookClient(nb, kernel_name="kvenv", timeout=CELL_TIMEOUT_S, allow_errors=True,
                                     resources={"metadata": {"path": str(tmp)}})
    client.execute()
    texts = []
    for cell in nb.cells:
        parts = []
        for out in cell.outputs:
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type == "error":
                parts.append(f"{out.ename}: {out.evalue}")
            elif "text/plain" in out.get("data", {}):
                parts.append(out["data"]["text/plain"])
        texts.append("".join(parts))
    return texts


def test_colab_flow_in_a_real_kernel(kernel_env: dict[str, Any]) -> None:
    python, env, tmp = kernel_env["python"], kernel_env["env"], kernel_env["tmp"]
    broken = freeze(python, env)
    out = _run([
        "import sys; print(sys.executable)\ntry:\n    import bitsandbytes\nexcept ImportError as e:\n    print('import failed:', e)",
        "!envdoctor check --no-project",
        "!envdoctor fix --apply\nprint('exit', _exit_code)",
        "!envdoctor fix --apply --yes --no-project --select ED101",
        "%run -m envdoctor check --no-project",
    ], tmp)
    assert out[0].startswith(str(python)) and "No module named 'triton.ops'" in out[0]
    assert f"python:{python}" in out[1] and "ED101" in out[1]
    assert "in a notebook nobody can answer a prompt: run `!envdoctor fix --apply --yes` in a cell" in out[2]
    assert "exit 2" in out[2] and "[y/N]" not in out[2]
    assert "applied" in out[3] and "bitsandbytes" in out[3], out[3]
    assert "RESTART" in out[3] and "bitsandbytes" in out[3].split("RESTART", 1)[1]
    assert "`!envdoctor rollback --yes`" in out[3]
    assert "SystemExit" not in out[4] and "Unknown failure" not in out[4]
    fixed = freeze(python, env)
    assert "bitsandbytes==0.45.1" in fixed

    out = _run([
        "import bitsandbytes; print('loaded', bitsandbytes.__version__)",
        "!envdoctor rollback --yes",
    ], tmp)
    assert "loaded 0.45.1" in out[0]
    assert "bitsandbytes 0.45.1 -> 0.44.1 (restored)" in out[1]
    assert "RESTART" in out[1] and "maps or holds open their files" in out[1], out[1]
    assert freeze(python, env) == broken
    shutil.rmtree(tmp / "runtime", ignore_errors=True)
