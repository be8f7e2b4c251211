"""What a fresh install of a file target brings in (envdoctor.env.closure), against a loopback index."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from envdoctor.env.closure import install_closure
from envdoctor.env.snapshot import Distribution, Snapshot
from tests.helpers.index import IndexServer, Release, build_index, isolated_pip_env, metadata_text


def _lock(*dists: Distribution) -> Snapshot:
    return Snapshot(source="file:requirements.txt", python_version="3.11",
                    distributions={d.name: d for d in dists},
                    marker_env={"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux"})


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    """``mid`` 1.0 needs ``leaf``; ``mid`` 2.0 (the newest) needs ``leaf`` and, with its ``fast`` extra,
    ``speed``; ``leaf`` needs ``win-only`` on Windows alone."""
    build_index(tmp_path / "index", [
        Release("mid", "1.0", metadata_text("mid", "1.0", ["leaf"])),
        Release("mid", "2.0", metadata_text("mid", "2.0", ["leaf", 'speed; extra == "fast"'])),
        Release("leaf", "1.0", metadata_text("leaf", "1.0", ['win-only; sys_platform == "win32"'])),
        Release("speed", "1.0", metadata_text("speed", "1.0", [])),
    ])
    with IndexServer(tmp_path / "index") as running:
        isolated_pip_env(monkeypatch, tmp_path / "cache", running.url)
        yield running


def test_requirements_are_followed_to_the_newest_release_each_admits(server: IndexServer) -> None:
    deadline = time.monotonic() + 30
    top = Distribution("top", "1.0", requires=("mid",))
    assert install_closure(_lock(top), deadline) == {"top", "mid", "leaf"}  # no Windows marker, no extra
    extra = Distribution("top", "1.0", requires=("mid[fast]",))
    assert install_closure(_lock(extra), deadline) == {"top", "mid", "leaf", "speed"}
    capped = Distribution("top", "1.0", requires=("mid<2",))
    assert install_closure(_lock(capped), deadline) == {"top", "mid", "leaf"}


def test_what_cannot_be_told_is_none_not_a_guess(server: IndexServer) -> None:
    deadline = time.monotonic() + 30
    assert install_closure(_lock(Distribution("top", "1.0", metadata_known=False)), deadline) is None
    assert install_closure(_lock(Distribution("top", "1.0", requires=("mid>5",))), deadline) is None  # no release
    assert install_closure(_lock(Distribution("top", "1.0", requires=("mid",))), time.monotonic() - 1) is None
