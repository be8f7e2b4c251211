"""A bounded walk over the project folder for the files that tools will read.

Honours ``.gitignore`` files (root and nested, with pathspec's git semantics),
never follows symlinked folders (no loops), never opens anything but regular
files (no FIFOs or devices, which would block), reads at most
:data:`MAX_READ_BYTES` of each file, and stops after :data:`MAX_ENTRIES` folder
entries, :data:`MAX_FILES` candidate files or :data:`TIME_BUDGET_S` seconds,
saying which bound it hit.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from envdoctor.project.encoding import EncodingFacts, analyse

MAX_ENTRIES = 50_000
MAX_FILES = 2_000
MAX_READ_BYTES = 1 << 20
TIME_BUDGET_S = 3.0
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".tox", ".nox", ".mypy_cache",
                       ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", "site-packages", ".venv", "venv"})

# File kind by name pattern; first match wins.  The kind says which tool reads the file.
KIND_PATTERNS: tuple[tuple[str, str], ...] = (
    ("requirements*.txt", "requirements"), ("*requirements.txt", "requirements"),
    ("constraints*.txt", "requirements"), ("*.in", "requirements"), ("pyproject.toml", "toml"),
    ("*.toml", "toml"), ("*.yaml", "yaml"), ("*.yml", "yaml"), ("*.jsonl", "jsonl"), ("*.json", "json"),
    ("*.ipynb", "json"), ("*.csv", "csv"), ("*.tsv", "csv"), ("*.py", "python"), ("*.sh", "shell"),
    ("*.bash", "shell"), ("*.sql", "sql"),
)


@dataclass(frozen=True)
class ScannedFile:
    """One file a tool will read: where it is, its kind, and its encoding facts.

    ``encoding`` is None when the file could not be read (``error`` says why);
    ``truncated`` when only the first :data:`MAX_READ_BYTES` bytes were examined.
    """

    path: Path
    relative: str
    kind: str
    size: int = 0
    encoding: EncodingFacts | None = None
    truncated: bool = False
    error: str | None = None


@dataclass(frozen=True)
class ScanResult:
    """The scanned files and how far the walk got (``stopped`` names the bound it hit)."""

    root: Path
    files: tuple[ScannedFile, ...]
    entries_seen: int
    elapsed_s: float
    stopped: str | None = None


def file_kind(name: str, parent: str = "") -> str | None:
    """The kind of file ``name`` (in folder ``parent``), or None when no tool of interest reads it."""
    if parent == "requirements" and name.endswith(".txt"):
        return "requirements"
    return next((kind for pattern, kind in KIND_PATTERNS if fnmatch.fnmatch(name, pattern)), None)


class _Ignores:
    """The .gitignore specs that apply along the current walk path."""

    def __init__(self) -> None:
        self.specs: list[tuple[PurePosixPath, object]] = []

    def load(self, folder: Path, relative: PurePosixPath) -> None:
        gitignore = folder / ".gitignore"
        try:
            if not gitignore.is_file():
                return
            lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        import pathspec

        self.specs.append((relative, pathspec.GitIgnoreSpec.from_lines(lines)))

    def ignored(self, relative: PurePosixPath, is_dir: bool) -> bool:
        for base, spec in self.specs:
            try:
                inner = relative.relative_to(base) if str(base) != "." else relative
            except ValueError:
                continue
            if spec.match_file(f"{inner}/" if is_dir else str(inner)):  # type: ignore[attr-defined]
                return True
        return False


def read_file(path: Path, relative: str, kind: str) -> ScannedFile:
    """Examine one file: never opens a non-regular file, reads at most MAX_READ_BYTES."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return ScannedFile(path, relative, kind, error=f"cannot stat it ({exc.strerror})")
    if stat.S_ISDIR(info.st_mode):
        return ScannedFile(path, relative, kind, error="is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        return ScannedFile(path, relative, kind, error="is not a regular file (a pipe, socket or device)")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_READ_BYTES)
    except OSError as exc:
        return ScannedFile(path, relative, kind, size=info.st_size, error=f"cannot read it ({exc.strerror})")
    return ScannedFile(path, relative, kind, size=info.st_size,
                       encoding=analyse(data, python_source=kind == "python"),
                       truncated=info.st_size > len(data))


def scan(root: Path, time_budget_s: float = TIME_BUDGET_S, max_files: int = MAX_FILES,
         max_entries: int = MAX_ENTRIES) -> ScanResult:
    """Walk ``root`` (bounded) and examine every file a tool will read."""
    start = time.monotonic()
    ignores = _Ignores()
    files: list[ScannedFile] = []
    seen = 0
    stopped: str | None = None
    stack: list[tuple[Path, PurePosixPath, int]] = [(root, PurePosixPath("."), 0)]
    while stack and stopped is None:
        folder, relative, depth_of_specs = stack.pop()
        del ignores.specs[depth_of_specs:]
        ignores.load(folder, relative)
        specs_here = len(ignores.specs)
        try:
            with os.scandir(folder) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in listing:
            seen += 1
            if seen > max_entries:
                stopped = f"more than {max_entries} folder entries"
                break
            if time.monotonic() - start > time_budget_s:
                stopped = f"the {time_budget_s:g} s time budget"
                break
            rel = relative / entry.name if str(relative) != "." else PurePosixPath(entry.name)
            is_dir = entry.is_dir(follow_symlinks=False)
            if ignores.ignored(rel, is_dir):
                continue
            kind = file_kind(entry.name, folder.name)
            if is_dir:
                if entry.name not in SKIP_DIRS and not (Path(entry.path) / "pyvenv.cfg").exists():
                    subfolders.append((Path(entry.path), rel, specs_here))
                if kind is None:
                    continue
            if kind is None:
                continue
            if len(files) >= max_files:
                stopped = f"more than {max_files} files to examine"
                break
            files.append(read_file(Path(entry.path), rel.as_posix(), kind))
        stack.extend(reversed(subfolders))
    return ScanResult(root=root, files=tuple(files), entries_seen=seen,
                      elapsed_s=time.monotonic() - start, stopped=stopped)
