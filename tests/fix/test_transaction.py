"""Where transactions are kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.fix.transaction import state_root


def test_state_root_prefers_envdoctor_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_root() == tmp_path / "xdg" / "envdoctor" / "transactions"
    monkeypatch.setenv("ENVDOCTOR_STATE_DIR", str(tmp_path / "own"))
    assert state_root() == tmp_path / "own" / "transactions"
