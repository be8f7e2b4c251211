"""Apply a plan as a transaction: back up, change, re-check, and undo on failure.

Every apply gets a state folder ``$XDG_STATE_HOME/envdoctor/transactions/<UTC time>/``
(``~/.local/state/...`` by default) holding:

- ``freeze.txt``: ``pip freeze --all`` of the target before anything changed;
- ``snapshot.json``: the envdoctor snapshot the plan was made from;
- ``plan.json`` and ``constraints.txt`` (the kept packages, passed to pip with ``-c``);
- ``backups/N``: the bytes of every file a fix edits, and ``journal.json`` saying where each came from,
  its mode, owner and checksums, the interpreter's ``sys.prefix`` and the sha256 of ``freeze.txt``.

The folder is 0700 and its files 0600.  One environment is changed by one envdoctor at a
time (:func:`envdoctor.fix.journal.env_lock`).  Ctrl-C never kills pip: it is passed on
to the running pip once, pip is let finish, and the transaction rolls back.  A
transaction left ``started`` by a killed envdoctor can be rolled back from its saved
freeze and backups.  A rollback refuses, and says why, when it would uninstall pip,
setuptools or wheel, or a package the transaction did not change.

If a step fails, or the re-check finds an error that was not there before, the
transaction rolls back at once: packages that were added are uninstalled, and
every package whose freeze line changed is reinstalled from its old line with
``pip install --no-deps`` (through the same pip configuration, so the same index,
find-links and cache); edited files get their old bytes back.  `envdoctor
rollback` does the same for the last applied transaction.

Limits: a package that was installed from a local wheel or path that no longer
exists, or from an index the pip configuration no longer names, cannot be
reinstalled; the rollback then reports the freeze lines it could not restore and
the folder holding the old freeze.  Files created by a package's install scripts
outside site-packages are not tracked.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envdoctor.env.snapshot import Snapshot
from envdoctor.errors import InputError
from envdoctor.findings import FileEdit, Finding, Severity
from envdoctor.fix import files, journal
from envdoctor.fix.journal import APPLIED, INCOMPLETE, ROLLED_BACK, STARTED, FileEntry, Journal
from envdoctor.fix.plan import TOOLING, Plan
from envdoctor.userfiles import write_private

Progress = Callable[[str], None]
__all__ = ["APPLIED", "INCOMPLETE", "ROLLED_BACK", "STARTED", "Outcome", "StepFailed", "Transaction", "apply",
           "latest_to_undo", "undo"]


class StepFailed(Exception):
    """A command or file edit of the plan failed; the message says which and why."""


class Interrupts:
    """While active, Ctrl-C does not raise: it is passed once to the running child and counted.

    pip runs in its own session, so a terminal's Ctrl-C reaches only envdoctor, which
    forwards one SIGINT to pip and lets it finish its own clean-up; the transaction then
    rolls back.  Outside the main thread signals cannot be handled; it is then inert.
    """

    def __init__(self) -> None:
        self.count = 0
        self.forward = True
        self._child: subprocess.Popen[str] | None = None
        self._forwarded = False
        self._old: Any = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.forward and self._child is not None and not self._forwarded and self._child.poll() is None:
            self._forwarded = True
            self._child.send_signal(signal.SIGINT)

    def run(self, argv: Sequence[str], keep_fds: Sequence[int] = ()) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` to its end (never killed), capturing its output."""
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, errors="replace", start_new_session=True, pass_fds=tuple(keep_fds))
        self._child, self._forwarded = proc, False
        try:
            while True:
                try:
                    out, err = proc.communicate()
                    break
                except KeyboardInterrupt:  # only when no handler could be installed
                    self._handle(signal.SIGINT, None)
        finally:
            self._child = None
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def state_root() -> Path:
    """Where transactions are kept: ``$ENVDOCTOR_STATE_DIR/transactions``, else
    ``$XDG_STATE_HOME/envdoctor/transactions`` (~/.local/state)."""
    root = os.environ.get("ENVDOCTOR_STATE_DIR")
    if root:
        return Path(root) / "transactions"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "envdoctor" / "transactions"


def run_step(argv: Sequence[str], progress: Progress, interrupts: Interrupts, keep_fds: Sequence[int] = ()) -> None:
    """Run one argv command; raise :class:`StepFailed` with the tail of its output on failure or Ctrl-C.

    While ``interrupts.forward`` is off (a rollback), Ctrl-C neither reaches the command nor stops it.
    """
    progress("$ " + shlex.join(argv))
    try:
        proc = interrupts.run(argv, keep_fds)
    except OSError as exc:
        raise StepFailed(f"{argv[0]}: cannot run it ({exc.strerror})")
    if interrupts.count and interrupts.forward:
        raise StepFailed(f"interrupted (Ctrl-C); `{' '.join(argv[:5])} …` was let finish (exit {proc.returncode})")
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-3:]
        raise StepFailed(f"`{' '.join(argv[:5])} …` exited {proc.returncode}: {' | '.join(tail)}")


def freeze(python: str) -> list[str]:
    """``pip freeze --all`` of ``python`` as requirement lines (comments dropped)."""
    argv = [python, "-m", "pip", "freeze", "--all"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False,
                              stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise InputError(f"{python}: cannot run it ({exc.strerror}); pass a python executable to --python")
    if proc.returncode != 0:
        raise InputError(f"{python}: `pip freeze` failed ({(proc.stderr.strip().splitlines() or ['?'])[-1]}); "
                         "the target needs pip (python -m ensurepip)")
    return [line for line in proc.stdout.splitlines() if line.strip() and not line.startswith("#")]


def freeze_map(lines: Sequence[str]) -> dict[str, str]:
    """Freeze lines keyed by canonical project name (the whole line when it names none)."""
    keyed: dict[str, str] = {}
    for line in lines:
        spec = line.split("#egg=", 1)[1] if "#egg=" in line else line
        try:
            keyed[canonicalize_name(Requirement(spec).name)] = line
        except InvalidRequirement:
            keyed[line] = line
    return keyed


def freeze_changes(before: Sequence[str], after: Sequence[str]) -> list[str]:
    """Human-readable differences between two freezes (``name old -> new``)."""
    old, new = freeze_map(before), freeze_map(after)
    return [f"{name}: {old.get(name, 'absent')} -> {new.get(name, 'absent')}"
            for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]


def changed_names(before: Sequence[str], after: Sequence[str]) -> list[str]:
    """The keys of :func:`freeze_map` whose line differs between two freezes."""
    old, new = freeze_map(before), freeze_map(after)
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))


def _now_stamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


@dataclass
class Transaction:
    """One apply's state folder and journal, bound to the interpreter that may be changed.

    ``python`` is always the interpreter the user named (or the current one), never a
    string read from the journal; ``lock`` is the held environment lock, passed to pip.
    """

    folder: Path
    python: str
    journal: Journal
    interrupts: Interrupts
    lock: IO[bytes] | None = None

    @property
    def status(self) -> str:
        """The journal's status."""
        return self.journal.status

    @property
    def changes(self) -> list[str]:
        """Human-readable package changes of the apply."""
        return self.journal.changes

    def save(self) -> None:
        """Write the journal."""
        journal.save(self.journal, self.folder)

    def saved_freeze(self) -> list[str]:
        """The freeze taken before the apply, checked against its recorded sha256."""
        return journal.read_freeze(self.folder, self.journal.freeze_sha256)

    def _step(self, argv: Sequence[str], progress: Progress) -> None:
        run_step(argv, progress, self.interrupts, [self.lock.fileno()] if self.lock else [])

    def back_up(self, paths: Sequence[Path]) -> None:
        """Copy every file about to change into ``backups/`` with its mode, owner and checksum."""
        (self.folder / "backups").mkdir(exist_ok=True, mode=0o700)
        for index, path in enumerate(paths):
            try:
                target = files.resolve(path)
                state, data = files.state_of(target)
            except OSError as exc:
                raise StepFailed(f"{path}: cannot back it up ({exc.strerror or exc})")
            name = f"backups/{index}"
            write_private(self.folder / name, data)
            self.journal.files.append(FileEntry(path=str(target), backup=name, mode=state.mode, uid=state.uid,
                                                gid=state.gid, sha256=state.sha256))
        self.save()

    def edited(self, target: Path) -> None:
        """Record the checksum of a file just edited (a rollback restores only what envdoctor wrote)."""
        for index, entry in enumerate(self.journal.files):
            if entry.path == str(target):
                state, _ = files.state_of(target)
                self.journal.files[index] = FileEntry(**{**entry.to_dict(), "sha256_after": state.sha256})
        self.save()

    def restore_files(self) -> list[str]:
        """Put back the bytes, mode and owner of every edited file; what could not be put back."""
        left: list[str] = []
        for entry in self.journal.files:
            data = journal.backup_file(self.folder, entry.backup).read_bytes()
            if files.sha256(data) != entry.sha256:
                left.append(f"{entry.path}: its backup {entry.backup} changed since the apply; left as is")
                continue
            old = files.FileState(mode=entry.mode, uid=entry.uid, gid=entry.gid, sha256=entry.sha256)
            try:
                now, _ = files.state_of(Path(entry.path))
                if now == old:
                    continue
                if entry.sha256_after is not None and now.sha256 not in (entry.sha256_after, entry.sha256):
                    left.append(f"{entry.path}: changed since the apply; left as is (old bytes: "
                                f"{self.folder / entry.backup})")
                    continue
                files.write_preserving(Path(entry.path), data, old)
            except OSError as exc:
                left.append(f"{entry.path}: cannot restore it ({exc.strerror or exc}); old bytes: "
                            f"{self.folder / entry.backup}")
        return left

    def _refusal(self, added: Sequence[str], moved: Sequence[str]) -> str | None:
        unexplained = set(added) - set(self.journal.changed)
        tooling = sorted(unexplained & TOOLING)
        if tooling:
            return (f"it would uninstall {', '.join(tooling)}, which the saved freeze does not list; "
                    "the saved freeze is not trusted")
        if self.journal.status != STARTED and unexplained:
            return f"it would uninstall {', '.join(sorted(unexplained))}, which the transaction did not change"
        options = [line for line in moved if line.lstrip().startswith("-")]
        if options:
            return f"the saved freeze holds an option line ({options[0][:60]!r}), which pip freeze never writes"
        return None

    def restore_packages(self, progress: Progress) -> list[str]:
        """Return the target to the saved freeze; the freeze differences that remain.

        Raises InputError (changing nothing) when the saved freeze is not trusted or the
        rollback would remove tooling or more than the transaction changed.
        """
        saved = self.saved_freeze()
        current = freeze(self.python)
        old, new = freeze_map(saved), freeze_map(current)
        scope = set(changed_names(saved, current))
        if self.journal.status != STARTED:
            scope &= set(self.journal.changed) | {n for n in new if n not in old}
        added = sorted(name for name in scope if name in new and name not in old)
        moved = [old[name] for name in sorted(scope) if name in old]
        why = self._refusal(added, moved)
        if why:
            raise InputError(f"{self.folder}: rollback refused: {why}; nothing was changed")
        pip = [self.python, "-m", "pip"]
        try:
            if added:
                self._step([*pip, "uninstall", "-y", *added], progress)
            if moved:
                restore = self.folder / "restore.txt"
                write_private(restore, ("\n".join(moved) + "\n").encode("utf-8"))
                self._step([*pip, "install", "--no-deps", "-r", str(restore)], progress)
        except StepFailed as exc:
            progress(f"rollback step failed: {exc}")
        after = freeze_map(freeze(self.python))
        return [f"{name}: {old.get(name, 'absent')} -> {after.get(name, 'absent')}"
                for name in sorted(scope) if old.get(name) != after.get(name)]

    def roll_back(self, progress: Progress) -> list[str]:
        """Undo packages and files; record the outcome; return what could not be restored.

        Ctrl-C from here on is ignored: a rollback is not interrupted halfway.
        """
        self.interrupts.forward = False
        leftover = self.restore_packages(progress)
        leftover += self.restore_files()
        self.journal.status = INCOMPLETE if leftover else ROLLED_BACK
        self.save()
        return leftover


def apply_edit(edit: FileEdit, base: Path) -> Path:
    """Make one file edit (re-encode to UTF-8, or replace text) keeping the file's metadata; the file edited.

    Raises StepFailed if it cannot (a full disk included: the file is then unchanged).
    """
    path = base / edit.path
    try:
        target = files.resolve(path)
        data = target.read_bytes()
        if edit.action == "reencode":
            text = data.decode(edit.encoding or "utf-8")
        elif edit.action == "replace" and edit.old is not None:
            text = data.decode("utf-8")
            if edit.old not in text:
                raise StepFailed(f"{path}: the text to replace is no longer there")
            text = text.replace(edit.old, edit.new or "")
        else:
            raise StepFailed(f"{path}: unknown edit {edit.action!r}")
        files.write_preserving(target, text.encode("utf-8"))
    except (OSError, UnicodeDecodeError, LookupError) as exc:
        raise StepFailed(f"{path}: cannot edit it ({getattr(exc, 'strerror', None) or exc})")
    return target


@dataclass(frozen=True)
class Outcome:
    """How an apply ended."""

    folder: Path
    status: str
    changes: list[str]
    reason: str | None = None
    new_errors: list[Finding] = field(default_factory=list)
    leftover: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"state": str(self.folder), "status": self.status, "changes": self.changes,
                "reason": self.reason, "new_errors": [f.to_dict() for f in self.new_errors],
                "not_restored": self.leftover}


def _error_keys(findings: Sequence[Finding]) -> set[tuple[str, tuple[str, ...], str]]:
    return {(f.code, f.packages, "" if f.packages else f.message)
            for f in findings if f.severity is Severity.ERROR}


def new_errors(before: Sequence[Finding], after: Sequence[Finding]) -> list[Finding]:
    """Errors in ``after`` that ``before`` did not have (same rule and packages)."""
    known = _error_keys(before)
    return [f for f in after if f.severity is Severity.ERROR and _error_keys([f]) - known]


def begin(plan: Plan, snap: Snapshot, prefix: str, interrupts: Interrupts, lock: IO[bytes] | None,
          root: Path | None = None) -> Transaction:
    """Create the state folder (0700) with the freeze and its checksum, snapshot, plan and constraints."""
    base = root or state_root()
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = base / _now_stamp()
    folder.mkdir(mode=0o700)
    frozen = ("\n".join(freeze(plan.python)) + "\n").encode("utf-8")
    write_private(folder / journal.FREEZE, frozen)
    write_private(folder / "snapshot.json",
                          (json.dumps(snap.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8"))
    write_private(folder / "plan.json", (json.dumps(plan.to_dict(), indent=2) + "\n").encode("utf-8"))
    write_private(folder / "constraints.txt", "".join(line + "\n" for line in plan.constraints).encode())
    record = Journal(prefix=prefix, python=plan.python, freeze_sha256=files.sha256(frozen))
    tx = Transaction(folder=folder, python=plan.python, journal=record, interrupts=interrupts, lock=lock)
    tx.save()
    return tx


def apply(plan: Plan, snap: Snapshot, before: Sequence[Finding], recheck: Callable[[], list[Finding]],
          progress: Progress, base: Path = Path("."), root: Path | None = None) -> Outcome:
    """Apply ``plan`` under the environment's lock; roll back when a step fails, Ctrl-C or new errors."""
    prefix = journal.interpreter_prefix(plan.python)
    with Interrupts() as interrupts, journal.env_lock(root or state_root(), prefix) as lock:
        tx = begin(plan, snap, prefix, interrupts, lock, root)
        progress(f"state saved in {tx.folder}")
        reason: str | None = None
        found: list[Finding] = []
        try:
            tx.back_up([base / edit.path for edit in plan.edits])
            for edit in plan.edits:
                progress(f"edit {edit.path} ({edit.action})")
                tx.edited(apply_edit(edit, base))
                if interrupts.count:
                    raise StepFailed("interrupted (Ctrl-C) while applying")
            for argv in plan.argv(tx.folder / "constraints.txt"):
                tx._step(argv, progress)
        except StepFailed as exc:
            reason = str(exc)
        if reason is None:
            progress("re-checking")
            found = new_errors(before, recheck())
            if interrupts.count:
                reason = "interrupted (Ctrl-C) while re-checking"
            elif found:
                reason = "the re-check found new errors: " + "; ".join(f"{f.code} {f.message}" for f in found)
        saved, now = tx.saved_freeze(), freeze(plan.python)
        tx.journal.changes, tx.journal.changed = freeze_changes(saved, now), changed_names(saved, now)
        if reason is None:
            tx.journal.status = APPLIED
            tx.save()
            return Outcome(folder=tx.folder, status=APPLIED, changes=tx.changes)
        tx.save()
        progress("rolling back (Ctrl-C waits for it)")
        leftover = tx.roll_back(progress)
        return Outcome(folder=tx.folder, status=tx.status, changes=tx.changes, reason=reason,
                       new_errors=found, leftover=leftover)


def latest_to_undo(python: str, prefix: str, root: Path | None = None) -> Path:
    """The newest state folder of the environment at ``prefix`` that is applied, or left started.

    Journals are validated; a malformed one is an InputError naming it.
    """
    folder = root or state_root()
    candidates = sorted((p for p in folder.iterdir() if (p / journal.JOURNAL).exists()),
                        reverse=True) if folder.is_dir() else []
    for path in candidates:
        record = journal.load(path)
        if record.prefix == prefix and record.status in (APPLIED, STARTED):
            return path
    raise InputError(f"{folder}: no applied `envdoctor fix --apply` for {python} (sys.prefix {prefix}) to undo")


def undo(python: str | None, confirm: Callable[[Transaction], None], progress: Progress,
         root: Path | None = None) -> tuple[Transaction, list[str]]:
    """Roll back the last apply on ``python`` (default: this interpreter) under the environment's lock.

    ``confirm`` sees the transaction before anything changes (it may raise to stop).
    Returns the transaction and what could not be restored.
    """
    target = os.path.abspath(python) if python else sys.executable
    prefix = journal.interpreter_prefix(target)
    with Interrupts() as interrupts, journal.env_lock(root or state_root(), prefix) as lock:
        folder = latest_to_undo(target, prefix, root)
        tx = Transaction(folder=folder, python=target, journal=journal.load(folder), interrupts=interrupts,
                         lock=lock)
        confirm(tx)
        return tx, tx.roll_back(progress)
