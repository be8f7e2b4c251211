"""Restart notices from a real process that maps a package's shared object, before and after pip-style
replacement (the folder moved aside to its ``~`` name, then deleted)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from envdoctor.fix import restart
from envdoctor.fix.apply import undo_lines


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site-packages"
    (site / "pkg").mkdir(parents=True)
    dynload = Path(sysconfig.get_config_var("DESTSHARED") or "")
    libs = sorted(dynload.glob("*.so"), key=lambda p: p.stat().st_size) if dynload.is_dir() else []
    if not libs:
        pytest.skip("no shared object in this interpreter's lib-dynload to map")
    shutil.copy(libs[0], site / "pkg" / "_native.so")
    (site / "pkg-1.0.dist-info").mkdir()
    (site / "pkg-1.0.dist-info" / "RECORD").write_text("pkg/_native.so,,\npkg/__init__.py,,\n", encoding="utf-8")
    return site


def test_a_process_mapping_a_changed_package_is_named(tmp_path: Path) -> None:
    site = _site(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", f"import ctypes, sys; ctypes.CDLL({str(site / 'pkg' / '_native.so')!r});"
                               " print('ready', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert restart.notice(sys.executable, [str(site)], ["other: other==1 -> other==2"]).packages == ()
        (site / "pkg").rename(site / "~kg")  # what pip's uninstall does before deleting
        shutil.rmtree(site / "~kg")
        found = restart.notice(sys.executable, [str(site)], ["pkg: pkg==1.0 -> pkg==2.0"])
        assert found.packages == ("pkg",)
        assert [h.pid for h in found.holders] == [holder.pid]
        assert found.to_dict() is not None and found.to_dict()["packages"] == ["pkg"]  # type: ignore[index]
        assert "RESTART" in (found.text() or "")
    finally:
        holder.kill()
        holder.wait(timeout=10)
    time.sleep(0.1)
    assert restart.notice(sys.executable, [str(site)], ["pkg: pkg==1.0 -> pkg==2.0"]).packages == ()


def test_rollback_lines_say_what_the_undo_does() -> None:
    changes = ["bitsandbytes: bitsandbytes==0.44.1 -> bitsandbytes==0.45.1", "new: absent -> new==1.0",
               "gone: gone==2.0 -> absent"]
    assert undo_lines(changes) == ["bitsandbytes 0.45.1 -> 0.44.1 (restored)", "new 1.0 (removed)",
                                   "gone 2.0 (reinstalled)"]
