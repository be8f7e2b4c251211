"""The training child's environment."""

from __future__ import annotations

import pytest

from envdoctor.pipeline import launch


def test_child_grows_expandable_allocator_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF", raising=False)
    assert launch.child_environment(tty=False)["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"


def test_users_allocator_settings_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:128")
    assert launch.child_environment(tty=True)["PYTORCH_CUDA_ALLOC_CONF"] == "max_split_size_mb:128"
