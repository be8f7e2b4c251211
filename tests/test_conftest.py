"""The hermetic fixture of tests/conftest.py: a used real cache, state and pip config never leak in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from envdoctor.env import index, pipconfig
from envdoctor.fix import transaction
from tests.helpers.core import envdoctor

REPO = Path(__file__).resolve().parents[1]
POISON = "zzz-poison"


def test_tool_folders_are_temporary(hermetic: Path, tmp_path: Path) -> None:
    """Cache, state, home and pip's user config lie under the session's temp folder, here and in a child."""
    home = Path(os.environ["HOME"])
    assert home.is_relative_to(hermetic)
    assert index.cache_dir().is_relative_to(hermetic) and transaction.state_root().is_relative_to(hermetic)
    assert pipconfig.config_files(os.environ) == []  # PIP_CONFIG_FILE=os.devnull: no file is read
    child = subprocess.run([sys.executable, "-c", "from envdoctor.env.index import cache_dir; print(cache_dir())"],
                           capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert Path(child.stdout.strip()).is_relative_to(hermetic)
    lock = tmp_path / "req.txt"
    lock.write_text("requests==2.0.0\n", encoding="utf-8")
    result = envdoctor("check", "--env", str(lock), "--offline", "--no-project", "--format", "json")
    assert POISON not in result.stdout, result.stdout


def _used_home(root: Path) -> Path:
    """A home where envdoctor has been used: a metadata cache entry and a pip config of its own."""
    home = root / "home"
    cache = home / ".cache" / "envdoctor" / "metadata"
    cache.mkdir(parents=True)
    (cache / "requests-2.0.0.json").write_text(json.dumps(
        {"requires": [f"{POISON}>=1"], "requires_python": None, "source": "a used cache"}), encoding="utf-8")
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text("[global]\nindex-url = http://127.0.0.1:9/poison/\n")
    return home


def test_a_used_real_cache_does_not_reach_the_tests(tmp_path: Path) -> None:
    home = _used_home(tmp_path)
    outside = {k: v for k, v in os.environ.items()
               if not k.startswith(("XDG_", "ENVDOCTOR_", "PIP_"))} | {"HOME": str(home), "PYTHONPATH": str(REPO)}
    lock = tmp_path / "req.txt"
    lock.write_text("requests==2.0.0\n", encoding="utf-8")
    # without the fixture the used cache is read: the poisoned requirement shows
    direct = subprocess.run([sys.executable, "-m", "envdoctor", "check", "--env", str(lock), "--offline",
                             "--no-project"], capture_output=True, text=True, env=outside, timeout=120, check=False)
    assert POISON in direct.stdout, direct.stdout + direct.stderr
    # the test above, run by pytest from that home, does not see it
    inner = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            f"{Path(__file__).relative_to(REPO)}::test_tool_folders_are_temporary"],
                           cwd=REPO, capture_output=True, text=True, env=outside, timeout=300, check=False)
    assert inner.returncode == 0, inner.stdout + inner.stderr
    assert [p.name for p in (home / ".cache" / "envdoctor" / "metadata").iterdir()] == ["requests-2.0.0.json"]
