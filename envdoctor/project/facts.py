"""Facts about the project's files, data and configs, gathered before rules run.

All the I/O of the files-and-data rules happens here, bounded (see
:mod:`envdoctor.project.scan`, :mod:`envdoctor.project.locate`, :mod:`envdoctor.project.database`,
:mod:`envdoctor.project.models`); the rules in :mod:`envdoctor.rules` only read
the :class:`ProjectFacts` this returns.  Nothing here writes a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from envdoctor.env.snapshot import Snapshot
from envdoctor.errors import InputError
from envdoctor.userfiles import expand
from envdoctor.project.builtin_models import builtin_config
from envdoctor.project.config import DEFAULT_FILE, TrainingConfig, load_config
from envdoctor.project.database import DatabaseFacts, inspect
from envdoctor.project.discover import Discovery, discover
from envdoctor.project.locate import PathFacts, probe
from envdoctor.project.models import (
    ConfigFileFacts,
    LlamaFactoryFacts,
    config_yaml,
    ModelFolderFacts,
    llamafactory_yaml,
    model_folder,
)
from envdoctor.project.scan import ScanResult, scan


@dataclass(frozen=True)
class ProjectFacts:
    """Everything the files, data and config rules read.

    ``model_shape`` holds the model's config.json values used to size
    checkpoints (None when the model is a hub id).  ``found_databases`` are the databases the
    project's own code opens (or holds), with the SQL literals of that code checked against them;
    ``found_llamafactory`` the LLaMA-Factory YAMLs and launch lines found by content, ``found_accelerate``
    accelerate's config YAMLs
    (:mod:`envdoctor.project.discover`).  ``notes`` say what could not be checked and why.
    """

    root: Path
    scan: ScanResult | None = None
    config: TrainingConfig | None = None
    paths: tuple[PathFacts, ...] = ()
    database: DatabaseFacts | None = None
    model: ModelFolderFacts | None = None
    model_shape: dict[str, Any] | None = None
    llamafactory: LlamaFactoryFacts | None = None
    found_databases: tuple[DatabaseFacts, ...] = ()
    found_llamafactory: tuple[LlamaFactoryFacts, ...] = ()
    found_accelerate: tuple[ConfigFileFacts, ...] = ()
    discovery: Discovery | None = None
    notes: tuple[str, ...] = ()


def display_path(path: Path) -> str:
    """``path`` relative to the current folder when inside it, else absolute (for locations and messages)."""
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class ProjectRequest:
    """Where the project is and which of its files the user named."""

    project_path: Path | None = None
    config_file: Path | None = None
    llamafactory_file: Path | None = None


def _config_path(request: ProjectRequest) -> Path | None:
    """--config, else envdoctor.yaml in the project folder when present (named as the user would)."""
    if request.config_file is not None:
        return request.config_file
    default = (request.project_path or Path()) / DEFAULT_FILE
    return default if default.is_file() else None


def _paths(config: TrainingConfig, root: Path) -> tuple[PathFacts, ...]:
    wanted: list[tuple[str, Path, str]] = []
    if config.data.db is not None:
        wanted.append(("data.db", config.data.db, "file"))
    if config.model_dir is not None:
        wanted.append(("model.name_or_path", config.model_dir, "dir"))
    wanted += [("data.output", config.data.output.parent, "output"),
               ("train.output_dir", config.train.output_dir, "output")]
    roots = tuple(dict.fromkeys([root, config.source.parent if config.source else root]))
    found = []
    for key, path, expect in wanted:
        found.append(replace(probe(key, path, expect, search_roots=roots), line=config.line_of(key),
                             line_text=config.line_text(key), written=config.written.get(key)))
    return tuple(found)


def _token_line(origin: Path | None, start: int | None, token: str) -> tuple[int | None, str | None]:
    """The line of ``token`` in ``origin`` at or after ``start`` (the query's first line), and its text."""
    if origin is None:
        return start, None
    try:
        lines = origin.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return start, None
    pattern = re.compile(rf"(?<![\w.]){re.escape(token)}(?!\w)")
    first = (start or 1) - 1
    found = next((i for i in range(first, len(lines)) if pattern.search(lines[i])), None)
    return (start, None) if found is None else (found + 1, lines[found])


def _queries(config: TrainingConfig, notes: list[str]) -> dict[str, tuple[str, Path | None, int | None]]:
    """The statements the dataset builder will run: its built-in queries, then the config's overrides."""
    found: dict[str, tuple[str, Path | None, int | None]] = {}
    try:
        from envdoctor.project import queries as builtin
    except ImportError:
        notes.append("the dataset builder's built-in queries are not in this build; checked config queries only")
    else:
        origin = Path(builtin.__file__)
        for name, sql in builtin.builtin_queries().items():
            found[name] = (sql, origin, _token_line(origin, 1, sql.strip().splitlines()[0].strip())[0])
    for name, sql in config.data.queries.items():
        found[name] = (sql, config.source, config.line_of(f"data.queries.{name}"))
    return found


def _database(config: TrainingConfig, paths: tuple[PathFacts, ...], notes: list[str]) -> DatabaseFacts | None:
    """Inspect data.db; when it is missing but a same-named file was found nearby, inspect that one instead."""
    db = next((p for p in paths if p.key == "data.db"), None)
    if db is None:
        return None
    if db.is_file and db.readable:
        target = db.path
    elif not db.exists and db.nearby:
        target = db.nearby[0]
        notes.append(f"data.db is missing; its queries were checked against {display_path(target)}, "
                     "the same-named file found nearby")
    else:
        return None
    return _placed(inspect(target, _queries(config, notes)))


def _placed(facts: DatabaseFacts) -> DatabaseFacts:
    """``facts`` with each unknown name's line (and its text) in the file that holds the query."""
    placed = []
    for query in facts.queries:
        unknown = tuple(replace(u, line=line, line_text=text) for u in query.unknown
                        for line, text in [_token_line(query.origin, query.line, u.written)])
        placed.append(replace(query, unknown=unknown))
    return replace(facts, queries=tuple(placed))


def _found_databases(found: Discovery) -> tuple[DatabaseFacts, ...]:
    """Each database the project's code names (or holds) with the SQL literals checked against it:
    a file's literals go to the databases that file names, else to the project's only database."""
    out = []
    for db in found.databases:
        mine = {str(db.resolve())}
        queries = {q.name: (q.sql, q.path, q.line) for q in found.queries
                   if mine & set(q.databases) or (not q.databases and len(found.databases) == 1)}
        if queries:
            out.append(_placed(inspect(db, queries)))
    return tuple(out)


def _found_llamafactory(found: Discovery, named: Path | None, snapshot: Snapshot, root: Path,
                        notes: list[str]) -> tuple[LlamaFactoryFacts, ...]:
    """LLaMA-Factory YAMLs recognised by their keys, and launch lines' flags, as LLaMA-Factory facts."""
    out = []
    for path in found.llamafactory:
        if named is not None and path.resolve() == named.resolve():
            continue
        try:
            out.append(llamafactory_yaml(path, snapshot, root))
        except InputError as exc:
            notes.append(f"{exc} (found by its keys; not checked)")
    for launch in found.launches:
        if launch.launcher == "llamafactory-cli" and launch.values:
            out.append(LlamaFactoryFacts(launch.path, dict(launch.values), dict(launch.lines), style="cli"))
    return tuple(out)


def _found_accelerate(found: Discovery, notes: list[str]) -> tuple[ConfigFileFacts, ...]:
    """accelerate config YAMLs recognised by their keys."""
    out = []
    for path in found.accelerate:
        try:
            out.append(config_yaml(path, "accelerate settings (compute_environment: ...)",
                                   "pass the file you give `accelerate launch --config_file`"))
        except InputError as exc:
            notes.append(f"{exc} (found by its keys; not checked)")
    return tuple(out)


def _model_shape(config: TrainingConfig, model: ModelFolderFacts | None) -> dict[str, Any] | None:
    if model is not None:
        return dict(model.config) if model.config else None
    if config.model.is_builtin:
        try:
            return builtin_config(config.model.name_or_path)
        except InputError:
            return None
    return None


def collect(request: ProjectRequest, snapshot: Snapshot) -> ProjectFacts:
    """Gather the project facts for ``request`` (raises InputError for a bad --path, --config or --llamafactory)."""
    try:
        root = expand(request.project_path or Path.cwd()).resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # a symlink loop, a missing folder
        why = "a symlink loop" if isinstance(exc, RuntimeError) or exc.errno == 40 else "no such folder"
        raise InputError(f"{request.project_path}: {why}; pass the project folder with --path") from None
    if not root.is_dir():
        raise InputError(f"{request.project_path}: not a folder; pass the project folder with --path")
    notes: list[str] = []
    config_path = _config_path(request)
    config = load_config(config_path) if config_path is not None else None
    scanned = scan(root)
    found = discover(root, scanned)
    notes.extend(found.notes)
    if config is None:
        notes.append(f"no {DEFAULT_FILE} in {root}: the builder's data, path and model checks skipped; checked what "
                     f"the project's files name ({len(found.queries)} SQL, {len(found.databases)} database(s), "
                     f"{len(found.llamafactory) + len(found.launches)} LLaMA-Factory config(s)); "
                     "`envdoctor init` writes a config from them")
    facts = ProjectFacts(root=root, scan=scanned, config=config, discovery=found, notes=())
    if config is not None:
        paths = _paths(config, root)
        model_dir = config.model_dir
        model = model_folder(model_dir, snapshot) if model_dir is not None and model_dir.is_dir() else None
        facts = replace(facts, paths=paths, database=_database(config, paths, notes), model=model,
                        model_shape=_model_shape(config, model))
    if request.llamafactory_file is not None:
        facts = replace(facts, llamafactory=llamafactory_yaml(request.llamafactory_file, snapshot, root))
    facts = replace(facts, found_databases=_found_databases(found),
                    found_llamafactory=_found_llamafactory(found, request.llamafactory_file, snapshot, root, notes),
                    found_accelerate=_found_accelerate(found, notes))
    return replace(facts, notes=tuple(notes))


__all__ = ["ProjectFacts", "collect", "display_path"]
