"""A transaction's journal and state folder, trusted only after checking: schema, paths, checksum, lock.

The state folder may have been changed by anyone who can write it, so nothing read
from it is used as is:

- the transaction folder must be the user's own, not a symlink and not writable by others;
- the journal must match :data:`SCHEMA_VERSION`'s shape exactly (types, status values,
  absolute target paths, backup names ``backups/N`` that resolve to a regular file
  inside the folder) or :func:`load` refuses it;
- ``freeze.txt`` is used only when its sha256 is the one recorded when it was written
  (:func:`read_freeze`), so a truncated freeze cannot make a rollback uninstall what it
  does not list;
- the journal's ``python`` is informational: the interpreter a rollback runs is the one
  the user names (or the current one), and it must have the journal's ``prefix``.

:func:`env_lock` is the per-environment lock (``fcntl.flock`` on a file in the state
root keyed by the interpreter's ``sys.prefix``); pip children inherit it, so the lock
stays held until the last of them exits even if envdoctor itself is killed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from envdoctor.env.interpreter import isolated
from envdoctor.errors import InputError
from envdoctor.userfiles import write_private

SCHEMA_VERSION = 2
JOURNAL = "journal.json"
FREEZE = "freeze.txt"
STARTED, APPLIED, ROLLED_BACK, INCOMPLETE = "started", "applied", "rolled-back", "rollback-incomplete"
STATUSES = (STARTED, APPLIED, ROLLED_BACK, INCOMPLETE)
MAX_JOURNAL_BYTES = 4 << 20
_BACKUP = re.compile(r"backups/[0-9]{1,6}")
_SHA = re.compile(r"[0-9a-f]{64}")
PREFIX_TIMEOUT_S = 30


@dataclass(frozen=True)
class FileEntry:
    """One edited file: where it is, its backup, and the state to put back."""

    path: str
    backup: str
    mode: int
    uid: int
    gid: int
    sha256: str
    sha256_after: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"path": self.path, "backup": self.backup, "mode": self.mode, "uid": self.uid, "gid": self.gid,
                "sha256": self.sha256, "sha256_after": self.sha256_after}


@dataclass
class Journal:
    """What a transaction did, as written to ``journal.json``."""

    prefix: str
    python: str
    freeze_sha256: str
    status: str = STARTED
    files: list[FileEntry] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"schema_version": SCHEMA_VERSION, "prefix": self.prefix, "python": self.python,
                "freeze_sha256": self.freeze_sha256, "status": self.status,
                "files": [f.to_dict() for f in self.files], "changes": self.changes, "changed": self.changed}


def save(journal: Journal, folder: Path) -> None:
    """Write the journal atomically (a temp file renamed over it)."""
    temp = folder / (JOURNAL + ".tmp")
    temp.unlink(missing_ok=True)
    write_private(temp, (json.dumps(journal.to_dict(), indent=2) + "\n").encode("utf-8"))
    os.replace(temp, folder / JOURNAL)


def _bad(folder: Path, why: str) -> InputError:
    return InputError(f"{folder / JOURNAL}: not a valid envdoctor journal ({why}); "
                      "move this folder out of the state folder if you did not make it")


def _typed(data: dict[str, Any], key: str, kind: type | tuple[type, ...], folder: Path) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise _bad(folder, f"{key!r} missing or of the wrong type")
    return value


def _strings(data: dict[str, Any], key: str, folder: Path) -> list[str]:
    values = _typed(data, key, list, folder)
    if not all(isinstance(v, str) for v in values):
        raise _bad(folder, f"{key!r} must be a list of strings")
    return list(values)


def backup_file(folder: Path, name: str) -> Path:
    """The backup ``name`` (``backups/N``) as a regular file inside ``folder``; InputError otherwise."""
    if not _BACKUP.fullmatch(name):
        raise _bad(folder, f"backup {name!r} is not of the form backups/N")
    path = folder / name
    try:
        info = os.lstat(path)
    except OSError:
        raise _bad(folder, f"backup {name} is missing") from None
    inside = os.path.realpath(path).startswith(os.path.realpath(folder / "backups") + os.sep)
    if not stat.S_ISREG(info.st_mode) or not inside:
        raise _bad(folder, f"backup {name} is not a regular file inside the state folder")
    return path


def _entry(raw: Any, folder: Path) -> FileEntry:
    if not isinstance(raw, dict):
        raise _bad(folder, "a files entry is not an object")
    path = _typed(raw, "path", str, folder)
    if "\0" in path or not os.path.isabs(path) or os.path.normpath(path) != path:
        raise _bad(folder, f"file path {path[:80]!r} is not a normalised absolute path")
    backup = _typed(raw, "backup", str, folder)
    backup_file(folder, backup)
    mode, uid, gid = (_typed(raw, key, int, folder) for key in ("mode", "uid", "gid"))
    if not 0 <= mode <= 0o7777 or uid < 0 or gid < 0:
        raise _bad(folder, f"mode or owner of {path[:80]!r} out of range")
    digest = _typed(raw, "sha256", str, folder)
    after = raw.get("sha256_after")
    if not _SHA.fullmatch(digest) or not (after is None or isinstance(after, str) and _SHA.fullmatch(after)):
        raise _bad(folder, f"checksum of {path[:80]!r} is not a sha256")
    return FileEntry(path=path, backup=backup, mode=mode, uid=uid, gid=gid, sha256=digest, sha256_after=after)


def load(folder: Path) -> Journal:
    """Read and validate ``folder``'s journal; InputError naming what is wrong."""
    path = folder / JOURNAL
    try:
        owner = os.lstat(folder)
    except OSError:
        raise _bad(folder, "the folder cannot be read") from None
    if stat.S_ISLNK(owner.st_mode) or owner.st_uid != os.getuid() or owner.st_mode & 0o022:
        raise _bad(folder, "the folder is a symlink, someone else's, or writable by others")
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_JOURNAL_BYTES:
            raise _bad(folder, "not a regular file of sane size")
        data = json.loads(path.read_bytes().decode("utf-8"))
    except InputError:
        raise
    except (OSError, ValueError, RecursionError) as exc:
        raise _bad(folder, type(exc).__name__) from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise _bad(folder, f"schema_version is not {SCHEMA_VERSION}")
    status = _typed(data, "status", str, folder)
    if status not in STATUSES:
        raise _bad(folder, f"unknown status {status[:40]!r}")
    digest = _typed(data, "freeze_sha256", str, folder)
    if not _SHA.fullmatch(digest):
        raise _bad(folder, "freeze_sha256 is not a sha256")
    prefix, python = _typed(data, "prefix", str, folder), _typed(data, "python", str, folder)
    files = [_entry(raw, folder) for raw in _typed(data, "files", list, folder)]
    return Journal(prefix=prefix, python=python, freeze_sha256=digest, status=status, files=files,
                   changes=_strings(data, "changes", folder), changed=_strings(data, "changed", folder))


def read_freeze(folder: Path, digest: str) -> list[str]:
    """``freeze.txt`` of ``folder`` as lines, only when its sha256 is ``digest``."""
    path = folder / FREEZE
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the saved freeze ({exc.strerror}); nothing was changed") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise InputError(f"{path}: the saved freeze changed since the apply (its sha256 is not the one recorded); "
                         "not trusted, nothing was changed: restore packages by hand")
    return data.decode("utf-8", "replace").splitlines()


def interpreter_prefix(python: str) -> str:
    """``sys.prefix`` of ``python`` (run isolated); InputError when it cannot be asked."""
    argv = isolated(python, "sys.stdout.write(sys.prefix)")
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=PREFIX_TIMEOUT_S, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"{python}: cannot run it ({exc}); pass a python executable to --python") from None
    prefix = proc.stdout.decode("utf-8", "replace").strip()
    if proc.returncode != 0 or not os.path.isabs(prefix):
        raise InputError(f"{python}: did not say its sys.prefix; pass a python executable to --python")
    return os.path.realpath(prefix)


@contextlib.contextmanager
def env_lock(root: Path, prefix: str) -> Iterator[IO[bytes]]:
    """Hold the lock of the environment at ``prefix``; InputError at once if another envdoctor holds it.

    The lock files live beside the transactions folder ``root``, in ``locks/``.
    """
    import fcntl

    folder = root.parent / "locks"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = hashlib.sha256(prefix.encode("utf-8", "surrogateescape")).hexdigest()[:24] + ".lock"
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    handle = os.fdopen(fd, "r+b")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{prefix}: another `envdoctor fix --apply` or `rollback` (or a pip it started) is "
                             f"still changing this environment (lock {folder / name}); wait for it to finish") from None
        yield handle
    finally:
        handle.close()
