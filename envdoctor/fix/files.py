"""Rewrite a user's file without losing what makes it that file: its mode, owner, links and place.

A fix edits the file a path *resolves* to, so a symlink stays a symlink (pointing at
the edited target) and the edit never lands beside it.  The new bytes first go to a
temp file in the target's own folder, created with ``O_CREAT | O_EXCL | O_NOFOLLOW``
(a symlink planted at the temp name makes the create fail instead of redirecting the
write), written and fsynced, so a full disk shows up before the real file is touched.
Then:

- a file with one link gets the target's mode and owner on the temp, which is renamed
  onto the resolved target (atomic);
- a file with several hard links keeps its inode: the bytes are copied into it and it is
  truncated to the new length (every link sees the edit).

:class:`FileState` records what a rollback needs to put back: the mode, owner and
sha256 of the bytes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileState:
    """A regular file's mode bits, owner and content checksum."""

    mode: int
    uid: int
    gid: int
    sha256: str


def resolve(path: Path) -> Path:
    """The regular file ``path`` names, through any symlinks; OSError for a loop, a dangling link or a non-file."""
    target = Path(os.path.realpath(path, strict=True))
    info = os.stat(target)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return target


def sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def state_of(path: Path) -> tuple[FileState, bytes]:
    """The state and bytes of the regular file ``path`` resolves to."""
    target = resolve(path)
    with open(target, "rb") as handle:
        info = os.fstat(handle.fileno())
        data = handle.read()
    return FileState(mode=stat.S_IMODE(info.st_mode), uid=info.st_uid, gid=info.st_gid, sha256=sha256(data)), data


def _open_temp(folder: Path, name: str) -> tuple[Path, int]:
    """A fresh temp file in ``folder`` (0600), never through a planted symlink or an existing file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(16):
        temp = folder / f".{name}.envdoctor-{secrets.token_hex(6)}"
        try:
            return temp, os.open(temp, flags, 0o600)
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "no free temp name", str(folder))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_preserving(path: Path, data: bytes, state: FileState | None = None) -> None:
    """Replace the bytes of the file ``path`` resolves to, keeping its mode, owner and links.

    ``state`` (from :func:`state_of`) gives the mode and owner to set, as a rollback
    does; by default the file's current ones are kept.  On any OSError (a full disk
    included) the real file is left as it was whenever the failure comes before the
    final step, and the temp file is removed.
    """
    target = resolve(path)
    info = os.stat(target)
    mode = state.mode if state else stat.S_IMODE(info.st_mode)
    uid, gid = (state.uid, state.gid) if state else (info.st_uid, info.st_gid)
    temp, fd = _open_temp(target.parent, target.name)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if info.st_nlink > 1:
            os.unlink(temp)  # it proved the room is there; the bytes go into the shared inode
            _copy_into(target, data)
        else:
            if (uid, gid) != (os.getuid(), os.getgid()):
                os.chown(temp, uid, gid, follow_symlinks=False)
            os.chmod(temp, mode)
            os.rename(temp, target)
            _fsync_folder(target.parent)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if info.st_nlink > 1 and state is not None:
        os.chmod(target, mode)
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.chown(target, uid, gid)


def _copy_into(target: Path, data: bytes) -> None:
    """Write ``data`` into the existing inode (hard links keep sharing it)."""
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        _write_all(fd, data)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
