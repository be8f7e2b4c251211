"""What a project holds without an ``envdoctor.yaml``: its SQL, its databases, its LLaMA-Factory
and accelerate configs, and the flags its launch scripts pass.

Everything is read as text and parsed, never imported or run: Python files and notebook code
cells with :mod:`ast` (string literals passed to ``execute``/``read_sql``/... or that read like a
``SELECT``), YAML by its keys, shell lines (``.sh`` files, notebook ``!`` cells) with
:func:`shlex.split`.  A database a file names by path is looked for at that path, then by its
name *inside the project root* only (a bounded walk), never in a sibling folder.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from envdoctor import userfiles
from envdoctor.errors import InputError
from envdoctor.project.scan import SKIP_DIRS, ScanResult, _Ignores

SQL_CALLS = frozenset({"execute", "executemany", "executescript", "read_sql", "read_sql_query", "sql"})
CONNECT_CALLS = frozenset({"connect", "create_engine"})
DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
LOOKS_LIKE_SELECT = re.compile(r"^\s*(select|with)\b.*\bfrom\b", re.IGNORECASE | re.DOTALL)
LLAMAFACTORY_KEYS = frozenset({"stage", "finetuning_type", "template", "dataset", "lora_target", "quantization_bit"})
ACCELERATE_KEYS = frozenset({"compute_environment", "distributed_type"})
LAUNCHERS = ("llamafactory-cli",)
MAX_DB_WALK_ENTRIES = 20_000
MAX_TEXT_BYTES = 1 << 20


@dataclass(frozen=True)
class FoundQuery:
    """A SQL string literal in a project file: where it is and which databases that file names."""

    sql: str
    path: Path
    line: int
    databases: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """How findings call it: ``file:line``."""
        return f"{self.path.name}:{self.line}"


@dataclass(frozen=True)
class LaunchFlags:
    """The ``--key value`` flags one launcher line passes (``llamafactory-cli train ...``)."""

    path: Path
    launcher: str
    values: dict[str, str]
    lines: dict[str, tuple[int, str]]
    configs: tuple[str, ...] = ()  # YAML files the line passes positionally


@dataclass(frozen=True)
class Discovery:
    """What the project holds, found without a config."""

    queries: tuple[FoundQuery, ...] = ()
    databases: tuple[Path, ...] = ()
    llamafactory: tuple[Path, ...] = ()
    accelerate: tuple[Path, ...] = ()
    launches: tuple[LaunchFlags, ...] = ()
    notes: tuple[str, ...] = ()


def _read(path: Path) -> str | None:
    try:
        data = path.read_bytes()[:MAX_TEXT_BYTES]
    except OSError:
        return None
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def python_strings(source: str, path: Path, first_line: int = 1) -> tuple[list[FoundQuery], list[str], list[str]]:
    """SQL literals, database paths, and the paths passed to ``connect()`` in Python ``source``
    (a file, or one notebook cell starting at ``first_line``)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return [], [], []
    sql: dict[int, str] = {}
    databases: list[str] = []
    opened: list[str] = []
    connects = any(isinstance(n, ast.Call) and _call_name(n) in CONNECT_CALLS for n in ast.walk(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            name, text = _call_name(node), node.args[0].value
            if name in SQL_CALLS and text.strip():
                sql[node.args[0].lineno] = text
            elif name in CONNECT_CALLS and text.strip():
                databases.append(text.removeprefix("sqlite:///"))
                opened.append(text.removeprefix("sqlite:///"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if LOOKS_LIKE_SELECT.match(node.value):
                sql.setdefault(node.lineno, node.value)
            elif node.value.lower().endswith(DB_SUFFIXES) and "\n" not in node.value \
                    and Path(node.value).stem:
                databases.append(node.value)
    found = [FoundQuery(text, path, first_line + line - 1) for line, text in sorted(sql.items())]
    if connects:  # `DB = "x.db"; sqlite3.connect(DB)`: the file's database paths are what it opens
        opened += databases
    return found, list(dict.fromkeys(databases)), list(dict.fromkeys(opened))


def notebook_cells(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, lines) of each code cell, numbered as if the cells were one file."""
    try:
        cells = userfiles.parse_json(text, "<notebook>").get("cells", [])
    except (InputError, AttributeError):
        return
    line = 1
    for cell in cells:
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        lines = ("".join(source) if isinstance(source, list) else str(source)).splitlines()
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            yield line, lines
        line += len(lines)


def launch_flags(lines: list[str], path: Path, first_line: int = 1) -> list[LaunchFlags]:
    """The flags each launcher command in shell ``lines`` passes (continuations joined, comments dropped)."""
    found = []
    index = 0
    while index < len(lines):
        start, text = index, lines[index]
        while text.rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
            text = text.rstrip()[:-1] + " " + lines[index]
        index += 1
        try:
            words = shlex.split(text.lstrip().lstrip("!"), comments=True)
        except ValueError:
            continue
        launcher = next((w for w in words if Path(w).name in LAUNCHERS), None)
        if launcher is None:
            continue
        args = words[words.index(launcher) + 1:]
        values: dict[str, str] = {}
        configs = [a for a in args if a.endswith((".yaml", ".yml")) and not a.startswith("-")]
        i = 0
        while i < len(args):
            arg = args[i]
            if arg.startswith("--") and len(arg) > 2:
                key, eq, value = arg[2:].partition("=")
                if not eq and i + 1 < len(args) and not args[i + 1].startswith("--"):
                    value, i = args[i + 1], i + 1
                values[key] = value if (eq or value) else "true"
            i += 1
        where = {}
        for key in values:
            for offset in range(start, index):
                if re.search(rf"--{re.escape(key)}\b", lines[offset]):
                    where[key] = (first_line + offset, lines[offset])
                    break
        found.append(LaunchFlags(path, Path(launcher).name, values, where, tuple(configs)))
    return found


def yaml_kind(text: str) -> str | None:
    """``llamafactory`` or ``accelerate`` when a YAML's top-level keys say so, else None."""
    try:
        values = userfiles.parse_yaml(text, "<yaml>")
    except InputError:
        return None
    if not isinstance(values, dict):
        return None
    keys = {str(k) for k in values}
    if "model_name_or_path" in keys and keys & LLAMAFACTORY_KEYS:
        return "llamafactory"
    if ACCELERATE_KEYS <= keys:
        return "accelerate"
    return None


def database_files(root: Path) -> list[Path]:
    """SQLite files under ``root`` (bounded walk; skips the folders a scan skips and what the root's
    .gitignore ignores, such as a run's output folder)."""
    ignores = _Ignores()
    ignores.load(root, PurePosixPath("."))
    found: list[Path] = []
    seen = 0
    for folder, dirs, files in os.walk(root):
        here = PurePosixPath(Path(folder).relative_to(root).as_posix())
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                         and not ignores.ignored(here / d, True))
        seen += len(dirs) + len(files)
        found += [Path(folder) / f for f in sorted(files)
                  if f.lower().endswith(DB_SUFFIXES) and not ignores.ignored(here / f, False)]
        if seen > MAX_DB_WALK_ENTRIES:
            break
    return found


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def resolve_database(written: str, near: Path, root: Path, present: list[Path]) -> Path | None:
    """The database a file names: at that path (relative to the file or the root), else the
    same-named file inside the project root; never a file outside it found by name."""
    path = Path(written).expanduser()
    for candidate in ([path] if path.is_absolute() else [near / path, root / path]):
        if candidate.is_file():
            return candidate if _inside(candidate, root) or path.is_absolute() else None
    same = [p for p in present if p.name == path.name and _inside(p, root)]
    return same[0] if same else None


def discover(root: Path, scanned: ScanResult) -> Discovery:
    """Everything :mod:`envdoctor.project.discover` finds in ``scanned`` (the files under ``root``)."""
    queries: list[FoundQuery] = []
    launches: list[LaunchFlags] = []
    llamafactory: list[Path] = []
    accelerate: list[Path] = []
    named: dict[str, Path] = {}
    notes: list[str] = []
    missing: list[str] = []
    present = database_files(root)
    for file in scanned.files:
        suffix = file.path.suffix.lower()
        if file.kind not in ("python", "shell", "yaml") and suffix != ".ipynb":
            continue
        text = _read(file.path)
        if text is None:
            continue
        if file.kind == "yaml":
            kind = yaml_kind(text)
            (llamafactory if kind == "llamafactory" else accelerate if kind == "accelerate" else []).append(file.path)
            continue
        if file.kind == "shell":
            launches += launch_flags(text.splitlines(), file.path)
            continue
        chunks = ([(1, text.splitlines())] if file.kind == "python" else list(notebook_cells(text)))
        for first, lines in chunks:
            shell = [line if line.lstrip().startswith("!") else "" for line in lines]
            launches += launch_flags(shell, file.path, first)
            code = "\n".join("" if line.lstrip().startswith(("!", "%")) else line for line in lines)
            found, databases, opened = python_strings(code, file.path, first)
            resolved = []
            for written in databases:
                db = resolve_database(written, file.path.parent, root, present)
                if db is not None:
                    named[str(db.resolve())] = db
                    resolved.append(str(db.resolve()))
                elif written in opened:
                    missing.append(f"{written} ({file.relative})")
            queries += [FoundQuery(q.sql, q.path, q.line, tuple(resolved)) for q in found]
    for launch in launches:
        for config in launch.configs:
            path = (launch.path.parent / config) if (launch.path.parent / config).is_file() else root / config
            if path.is_file() and path not in llamafactory and _inside(path, root):
                llamafactory.append(path)
    if missing:
        notes.append(f"the code opens {len(missing)} database(s) that are not in the project, so their SQL is not "
                     f"checked: {', '.join(sorted(set(missing))[:3])}{' …' if len(set(missing)) > 3 else ''}")
    every_db = list(named.values()) + [p for p in present if str(p.resolve()) not in named]
    return Discovery(queries=tuple(queries), databases=tuple(every_db), llamafactory=tuple(llamafactory),
                     accelerate=tuple(accelerate), launches=tuple(launches), notes=tuple(dict.fromkeys(notes)))
