"""Edits keep mode, owner, symlinks and hard links; planted temp names and a full disk change nothing."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from envdoctor.env.snapshot import Snapshot
from envdoctor.findings import FileEdit
from envdoctor.fix import files, transaction
from envdoctor.fix.plan import Plan

GBK = '{"instruction": "你好世界"}\n'.encode("gbk")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_edit_keeps_mode_and_owner(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_bytes(b"echo old\n")
    os.chmod(script, 0o755)
    secret = tmp_path / "requirements.txt"
    secret.write_bytes(b"x==1\n")
    os.chmod(secret, 0o600)
    files.write_preserving(script, b"echo new\n")
    files.write_preserving(secret, b"x==2\n")
    assert (_mode(script), script.read_bytes()) == (0o755, b"echo new\n")
    assert (_mode(secret), secret.read_bytes()) == (0o600, b"x==2\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requirements.txt", "run.sh"]  # no temp left


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_restore_puts_back_another_owner(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"old\n")
    os.chown(path, 4242, 4343)
    os.chmod(path, 0o640)
    old, data = files.state_of(path)
    files.write_preserving(path, b"new\n")
    assert (os.stat(path).st_uid, os.stat(path).st_gid) == (4242, 4343)
    os.chmod(path, 0o666)
    os.chown(path, 0, 0)
    files.write_preserving(path, data, old)
    info = os.stat(path)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode), path.read_bytes()) == (4242, 4343, 0o640, b"old\n")


def test_symlink_stays_a_symlink_and_its_target_is_edited(tmp_path: Path) -> None:
    real = tmp_path / "shared" / "train.jsonl"
    real.parent.mkdir()
    real.write_bytes(b"old\n")
    link = tmp_path / "train.jsonl"
    link.symlink_to(real)
    files.write_preserving(link, b"new\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new\n"


def test_hard_links_keep_sharing_the_inode(tmp_path: Path) -> None:
    first = tmp_path / "a.txt"
    first.write_bytes(b"old old old\n")
    second = tmp_path / "b.txt"
    os.link(first, second)
    inode = os.stat(first).st_ino
    files.write_preserving(first, b"new\n")
    assert os.stat(first).st_ino == inode == os.stat(second).st_ino
    assert second.read_bytes() == b"new\n"


def test_symlink_planted_at_the_temp_name_is_never_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"precious\n")
    project = tmp_path / "project"
    project.mkdir()
    path = project / "train.jsonl"
    path.write_bytes(b"old\n")
    (project / "train.jsonl.envdoctor-tmp").symlink_to(outside)  # the name the old code used
    names: Iterator[str] = iter(["planted", "fresh"])
    (project / ".train.jsonl.envdoctor-planted").symlink_to(outside)
    monkeypatch.setattr(secrets, "token_hex", lambda _n: next(names))
    files.write_preserving(path, b"new\n")
    assert path.read_bytes() == b"new\n" and not path.is_symlink()
    assert outside.read_bytes() == b"precious\n"


def test_loop_and_non_file_are_errors(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(OSError):
        files.resolve(loop)
    with pytest.raises(OSError):
        files.resolve(tmp_path)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (root only); skipped where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount") or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(disk: Path, keep_free: int) -> None:
    """Leave about ``keep_free`` bytes free on ``disk``."""
    vfs = os.statvfs(disk)
    free = vfs.f_bavail * vfs.f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - keep_free))


def test_full_disk_mid_edit_rolls_back(tiny_disk: Path, tmp_path: Path) -> None:
    """The UTF-8 form of a GBK file is larger than the room left: the edit fails, the apply rolls back."""
    data = tiny_disk / "train.jsonl"
    original = GBK * 200
    data.write_bytes(original)
    os.chmod(data, 0o640)
    _fill(tiny_disk, 4096)
    plan = Plan(python=sys.executable, edits=(FileEdit(path="train.jsonl", action="reencode", encoding="gbk"),))
    outcome = transaction.apply(plan, Snapshot(source="test", python_version="3.11"), [], list, lambda _: None,
                                base=tiny_disk, root=tmp_path / "state" / "transactions")
    assert outcome.status == transaction.ROLLED_BACK
    assert "No space left" in (outcome.reason or "")
    assert data.read_bytes() == original and _mode(data) == 0o640
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "train.jsonl"]  # no partial temp file


def test_apply_then_rollback_restores_bytes_mode_and_links(tmp_path: Path) -> None:
    """An edit through a symlink to a 0755 hard-linked script; `rollback` puts back bytes and mode, links intact."""
    real = tmp_path / "scripts" / "run.sh"
    real.parent.mkdir()
    real.write_bytes(b"python train.py --old\n")
    os.chmod(real, 0o755)
    twin = tmp_path / "scripts" / "run-copy.sh"
    os.link(real, twin)
    (tmp_path / "run.sh").symlink_to(real)
    root = tmp_path / "state" / "transactions"
    plan = Plan(python=sys.executable,
                edits=(FileEdit(path="run.sh", action="replace", old="--old", new="--new"),))
    outcome = transaction.apply(plan, Snapshot(source="test", python_version="3.11"), [], list, lambda _: None,
                                base=tmp_path, root=root)
    assert outcome.status == transaction.APPLIED
    assert twin.read_bytes() == b"python train.py --new\n" and _mode(real) == 0o755
    os.chmod(real, 0o600)  # a mode change after the apply is undone with the bytes
    _, left = transaction.undo(sys.executable, lambda _: None, lambda _: None, root=root)
    assert left == []
    assert (tmp_path / "run.sh").is_symlink() and os.stat(real).st_ino == os.stat(twin).st_ino
    assert twin.read_bytes() == b"python train.py --old\n" and _mode(real) == 0o755
