"""Which running processes still hold a package that an apply or a rollback just changed.

A Python process keeps the modules it imported: after pip replaces a package, a notebook kernel
(or any long-running Python of that environment) runs the old code until it restarts, and a
later import from it mixes versions.  envdoctor looks from outside, without touching those
processes: every process's memory maps (``/proc/<pid>/maps``: shared objects, including ones
pip has since moved aside and deleted) and open files (``/proc/<pid>/fd``) are matched against the changed
packages' top-level folders in the environment's site-packages.  Pure-Python modules leave no
trace there once imported, so a notebook kernel running on the changed environment is listed
for every changed package: it may have imported any of them, and only a restart makes sure.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from envdoctor.env import notebook

PROC = Path("/proc")
STASH_CHARS = "-~.=%0123456789"  # pip's AdjacentTempDirectory.LEADING_CHARS


@dataclass(frozen=True)
class Holder:
    """A process that holds (or may hold) changed packages."""

    pid: int
    command: str
    packages: tuple[str, ...]
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"pid": self.pid, "command": self.command, "packages": list(self.packages), "evidence": self.evidence}


@dataclass(frozen=True)
class RestartNotice:
    """The changed packages some process still holds, and those processes."""

    packages: tuple[str, ...] = ()
    holders: tuple[Holder, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any] | None:
        """JSON-ready form (None when no restart is needed)."""
        if not self.packages:
            return None
        return {"packages": list(self.packages), "processes": [h.to_dict() for h in self.holders]}

    def text(self) -> str | None:
        """The notice for people, or None."""
        if not self.packages:
            return None
        who = "; ".join(f"pid {h.pid} ({h.command}: {h.evidence})" for h in self.holders) or \
            "the notebook runtime's kernel (a hosted runtime: Colab or Kaggle)"
        return (f"RESTART the kernel or process now (Colab: Runtime > Restart session; Jupyter: Kernel > "
                f"Restart): {', '.join(self.packages)} changed on disk, but {who} still holds the old version")


def changed_names(changes: Iterable[str]) -> list[str]:
    """Package names of :func:`envdoctor.fix.transaction.freeze_changes` lines (``name: old -> new``)."""
    return sorted({line.split(":", 1)[0] for line in changes if ":" in line})


def top_levels(site_dirs: Iterable[str], names: Sequence[str]) -> dict[str, str]:
    """Top-level folder or module name -> package, from the RECORD of each package now installed
    (the package's own name counts too, for one that was removed)."""
    wanted = {canonicalize_name(n): n for n in names}
    found = {canonicalize_name(n).replace("-", "_"): n for n in names}
    for site in site_dirs:
        try:
            entries = list(Path(site).glob("*.dist-info"))
        except OSError:
            continue
        for info in entries:
            name = canonicalize_name(info.name[: -len(".dist-info")].rsplit("-", 1)[0])
            if name not in wanted:
                continue
            try:
                lines = (info / "RECORD").read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                first = line.split(",", 1)[0].split("/", 1)[0]
                if first and not first.endswith((".dist-info", ".data")) and not first.startswith(".."):
                    found.setdefault(first.split(".", 1)[0] if first.endswith((".py", ".so")) else first,
                                     wanted[name])
    return found


def _files_of(pid: int) -> set[str]:
    """Paths a process maps or holds open (`` (deleted)`` stripped)."""
    paths: set[str] = set()
    try:
        for line in (PROC / str(pid) / "maps").read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                paths.add(parts[5].removesuffix(" (deleted)"))
    except OSError:
        return paths
    try:
        for fd in (PROC / str(pid) / "fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("/"):
                paths.add(target.removesuffix(" (deleted)"))
    except OSError:
        pass
    return paths


def _stashed_as(key: str, tops: dict[str, str]) -> str | None:
    """The top-level name pip's uninstall renamed to ``key`` while replacing a package: pip moves a
    folder aside to an adjacent ``~`` name of the same length (``bitsandbytes`` -> ``~itsandbytes``,
    pip's ``AdjacentTempDirectory``) before deleting it, so a process's maps show that path."""
    if not key.startswith("~"):
        return None
    for top in tops:
        if len(top) == len(key) and any(key[i:] == top[i:] and all(c in STASH_CHARS for c in key[1:i])
                                        for i in range(1, len(top))):
            return top
    return None


def _held(paths: Iterable[str], sites: Sequence[str], tops: dict[str, str]) -> set[str]:
    held: set[str] = set()
    for path in paths:
        for site in sites:
            if path.startswith(site + os.sep):
                first = path[len(site) + 1:].split(os.sep, 1)[0]
                key = first.split(".", 1)[0] if first.endswith(".so") else first.removesuffix(".libs")
                key = key if key in tops else _stashed_as(key, tops) or key
                if key in tops:
                    held.add(tops[key])
    return held


def notice(python: str, site_dirs: Iterable[str], changes: Sequence[str], hosted: bool = False) -> RestartNotice:
    """The restart notice after ``changes`` (freeze-change lines) to the environment of ``python``;
    ``hosted`` (the target is a Colab or Kaggle runtime) names every changed package even when no
    kernel process is visible from here."""
    names = changed_names(changes)
    if not names:
        return RestartNotice()
    sites = sorted({os.path.realpath(s) for s in site_dirs} | {os.path.abspath(s) for s in site_dirs})
    tops = top_levels(sites, names)
    holders: list[Holder] = []
    me = os.getpid()
    try:
        pids = [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]
    except OSError:
        pids = []
    kernel = notebook.kernel()
    for pid in pids:
        if pid == me:
            continue
        held = _held(_files_of(pid), sites, tops)
        words = notebook._cmdline(pid)
        command = words[0] if words else "?"
        if held:
            holders.append(Holder(pid, command, tuple(sorted(held)), "maps or holds open their files"))
        elif kernel is not None and pid == kernel.pid and os.path.abspath(kernel.python) == os.path.abspath(python):
            holders.append(Holder(pid, command, tuple(names), "the notebook kernel of this environment; "
                                  "its pure-Python modules cannot be seen from outside"))
    packages = sorted({p for h in holders for p in h.packages}) or (names if hosted else [])
    return RestartNotice(tuple(packages), tuple(holders))


def site_dirs_of(locations: Iterable[str | None]) -> list[str]:
    """The site-packages folders of a snapshot's distribution locations."""
    dirs = set()
    for where in locations:
        if where and os.path.isabs(where):
            dirs.add(os.path.dirname(where) if where.endswith((".dist-info", ".egg-info")) else where)
    return sorted(dirs)
