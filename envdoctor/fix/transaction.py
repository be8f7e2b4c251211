"""Apply a plan as a transaction: back up, change, re-check, and undo on failure.

Every apply gets a state folder ``$XDG_STATE_HOME/envdoctor/transactions/<UTC time>/``
(``~/.local/state/...`` by default) holding:

- ``freeze.txt``: ``pip freeze --all`` of the target before anything changed;
- ``snapshot.json``: the envdoctor snapshot the plan was made from;
- ``plan.json`` and ``constraints.txt`` (the kept packages, passed to pip with ``-c``);
- ``backups/N``: the bytes of every file a fix edits, and ``journal.json`` saying where each came from.

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
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envdoctor.env.snapshot import Snapshot
from envdoctor.errors import InputError
from envdoctor.findings import FileEdit, Finding, Severity
from envdoctor.fix.plan import Plan

Progress = Callable[[str], None]
JOURNAL = "journal.json"
APPLIED, ROLLED_BACK, INCOMPLETE = "applied", "rolled-back", "rollback-incomplete"


class StepFailed(Exception):
    """A command or file edit of the plan failed; the message says which and why."""


def state_root() -> Path:
    """Where transactions are kept: ``$ENVDOCTOR_STATE_DIR/transactions``, else
    ``$XDG_STATE_HOME/envdoctor/transactions`` (~/.local/state)."""
    root = os.environ.get("ENVDOCTOR_STATE_DIR")
    if root:
        return Path(root) / "transactions"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "envdoctor" / "transactions"


def run_step(argv: Sequence[str], progress: Progress) -> None:
    """Run one argv command; raise :class:`StepFailed` with the tail of its output on failure."""
    progress("$ " + shlex.join(argv))
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise StepFailed(f"{argv[0]}: cannot run it ({exc.strerror})")
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-3:]
        raise StepFailed(f"`{' '.join(argv[:5])} …` exited {proc.returncode}: {' | '.join(tail)}")


def freeze(python: str) -> list[str]:
    """``pip freeze --all`` of ``python`` as requirement lines (comments dropped)."""
    argv = [python, "-m", "pip", "freeze", "--all"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
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


def _now_stamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


@dataclass
class Transaction:
    """One apply's state folder and journal."""

    folder: Path
    python: str
    status: str = "started"
    files: list[dict[str, Any]] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    def save(self) -> None:
        """Write the journal."""
        data = {"python": self.python, "status": self.status, "files": self.files, "changes": self.changes}
        (self.folder / JOURNAL).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Transaction:
        """Read a transaction's journal."""
        try:
            data = json.loads((folder / JOURNAL).read_text(encoding="utf-8"))
            return cls(folder=folder, python=data["python"], status=data["status"],
                       files=list(data["files"]), changes=list(data.get("changes", [])))
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{folder / JOURNAL}: unreadable transaction journal ({exc})")

    def saved_freeze(self) -> list[str]:
        """The freeze taken before the apply."""
        return (self.folder / "freeze.txt").read_text(encoding="utf-8").splitlines()

    def back_up(self, paths: Sequence[Path]) -> None:
        """Copy every file about to change into ``backups/``."""
        (self.folder / "backups").mkdir(exist_ok=True)
        for index, path in enumerate(paths):
            entry: dict[str, Any] = {"path": str(path), "backup": None}
            if path.exists():
                entry["backup"] = f"backups/{index}"
                shutil.copy2(path, self.folder / entry["backup"])
            self.files.append(entry)
        self.save()

    def restore_files(self) -> None:
        """Put back the bytes of every backed-up file (remove files that did not exist)."""
        for entry in self.files:
            path = Path(entry["path"])
            if entry["backup"] is None:
                path.unlink(missing_ok=True)
            else:
                _write_atomic(path, (self.folder / entry["backup"]).read_bytes())

    def restore_packages(self, progress: Progress) -> list[str]:
        """Return the target to the saved freeze; the freeze differences that remain."""
        saved = self.saved_freeze()
        old, new = freeze_map(saved), freeze_map(freeze(self.python))
        added = sorted(name for name in new if name not in old)
        moved = [line for name, line in sorted(old.items()) if new.get(name) != line]
        pip = [self.python, "-m", "pip"]
        try:
            if added:
                run_step([*pip, "uninstall", "-y", *added], progress)
            if moved:
                restore = self.folder / "restore.txt"
                restore.write_text("\n".join(moved) + "\n", encoding="utf-8")
                run_step([*pip, "install", "--no-deps", "-r", str(restore)], progress)
        except StepFailed as exc:
            progress(f"rollback step failed: {exc}")
        return freeze_changes(saved, freeze(self.python))

    def roll_back(self, progress: Progress) -> list[str]:
        """Undo files and packages; record the outcome; return what could not be restored."""
        self.restore_files()
        leftover = self.restore_packages(progress)
        self.status = INCOMPLETE if leftover else ROLLED_BACK
        self.save()
        return leftover


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".envdoctor-tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def apply_edit(edit: FileEdit, base: Path) -> None:
    """Make one file edit (re-encode to UTF-8, or replace text); raise StepFailed if it cannot."""
    path = base / edit.path
    try:
        data = path.read_bytes()
        if edit.action == "reencode":
            text = data.decode(edit.encoding or "utf-8")
        elif edit.action == "replace" and edit.old is not None:
            text = data.decode("utf-8")
            if edit.old not in text:
                raise StepFailed(f"{path}: the text to replace is no longer there")
            text = text.replace(edit.old, edit.new or "")
        else:
            raise StepFailed(f"{path}: unknown edit {edit.action!r}")
    except (OSError, UnicodeDecodeError, LookupError) as exc:
        raise StepFailed(f"{path}: cannot edit it ({exc})")
    _write_atomic(path, text.encode("utf-8"))


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


def begin(plan: Plan, snap: Snapshot, root: Path | None = None) -> Transaction:
    """Create the state folder with the freeze, snapshot, plan and constraints."""
    folder = (root or state_root()) / _now_stamp()
    folder.mkdir(parents=True)
    tx = Transaction(folder=folder, python=plan.python)
    (folder / "freeze.txt").write_text("\n".join(freeze(plan.python)) + "\n", encoding="utf-8")
    (folder / "snapshot.json").write_text(json.dumps(snap.to_dict(), indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")
    (folder / "plan.json").write_text(json.dumps(plan.to_dict(), indent=2) + "\n", encoding="utf-8")
    (folder / "constraints.txt").write_text("".join(line + "\n" for line in plan.constraints), encoding="utf-8")
    tx.save()
    return tx


def apply(plan: Plan, snap: Snapshot, before: Sequence[Finding], recheck: Callable[[], list[Finding]],
          progress: Progress, base: Path = Path("."), root: Path | None = None) -> Outcome:
    """Apply ``plan``; roll back automatically when a step fails or the re-check finds new errors."""
    tx = begin(plan, snap, root)
    progress(f"state saved in {tx.folder}")
    tx.back_up([(base / edit.path).resolve() for edit in plan.edits])  # absolute: rollback may run elsewhere
    reason: str | None = None
    found: list[Finding] = []
    try:
        for edit in plan.edits:
            progress(f"edit {edit.path} ({edit.action})")
            apply_edit(edit, base)
        for argv in plan.argv(tx.folder / "constraints.txt"):
            run_step(argv, progress)
    except StepFailed as exc:
        reason = str(exc)
    except KeyboardInterrupt:
        reason = "interrupted (Ctrl-C) while applying"
    if reason is None:
        progress("re-checking")
        found = new_errors(before, recheck())
        if found:
            reason = "the re-check found new errors: " + "; ".join(f"{f.code} {f.message}" for f in found)
    tx.changes = freeze_changes(tx.saved_freeze(), freeze(plan.python))
    if reason is None:
        tx.status = APPLIED
        tx.save()
        return Outcome(folder=tx.folder, status=APPLIED, changes=tx.changes)
    progress("rolling back")
    leftover = tx.roll_back(progress)
    return Outcome(folder=tx.folder, status=tx.status, changes=tx.changes, reason=reason,
                   new_errors=found, leftover=leftover)


def latest_applied(python: str | None, root: Path | None = None) -> Transaction:
    """The newest transaction still applied (for ``python`` when given)."""
    folder = root or state_root()
    candidates = sorted((p for p in folder.glob("*") if (p / JOURNAL).is_file()), reverse=True) \
        if folder.is_dir() else []
    for path in candidates:
        tx = Transaction.load(path)
        if tx.status == APPLIED and (python is None or os.path.abspath(python) == tx.python):
            return tx
    target = f" for {python}" if python else ""
    raise InputError(f"{folder}: no applied `envdoctor fix --apply`{target} to undo")
