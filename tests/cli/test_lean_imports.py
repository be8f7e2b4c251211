"""`envdoctor check` must not import the heavy ML stack in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("torch", "transformers", "bitsandbytes", "vllm", "triton", "peft", "accelerate")


def imported_modules(*args: str, cwd: Path) -> set[str]:
    """Top-level names of every module `python -X importtime -m envdoctor ARGS` imported."""
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "ENVDOCTOR_CACHE_DIR": str(cwd / "cache")}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "envdoctor", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    names = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    assert "envdoctor.engine.check" in names  # the check really ran
    return {name.split(".")[0] for name in names}


def test_live_check_imports_no_ml_framework(tmp_path: Path) -> None:
    import importlib.util

    assert importlib.util.find_spec("torch") is not None, "install the train extra: the test needs torch present"
    assert not set(HEAVY) & imported_modules("check", "--no-project", cwd=tmp_path)


def test_lock_file_check_imports_no_ml_framework(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("torch==2.6.0\ntriton==3.2.0\nbitsandbytes==0.44.1\n", encoding="utf-8")
    assert not set(HEAVY) & imported_modules("check", "--env", str(lock), "--offline", "--no-project", cwd=tmp_path)
