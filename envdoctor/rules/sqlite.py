"""The dataset builder's SQLite database and queries: ED220-ED225.

Every fact comes from SQLite itself (see :mod:`envdoctor.project.database`): a query
that names a missing column fails here exactly as it would in the builder.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from envdoctor.findings import Applicability, FileEdit, Finding, Fix, Location, Severity, hint
from envdoctor.knowledge.base import RuleEntry
from envdoctor.project.config import TrainingConfig
from envdoctor.project.database import DatabaseFacts, QueryFacts, UnknownName
from envdoctor.project.facts import ProjectFacts, display_path
from envdoctor.project.queries import REQUIRED_COLUMNS
from envdoctor.rules.base import Context, implements

# SQLite's message → what it means for the user.
DATABASE_ERRORS = (
    ("file is not a database", "is not an SQLite database (a partial download, another format, or encrypted)"),
    ("malformed", 'is corrupt ("database disk image is malformed"); restore it from a good copy'),
    ("locked", "is locked by another process (an open notebook cell, sqlite3 shell or writer); close it and retry"),
    ("unable to open", "cannot be opened (permissions, or a WAL database in a read-only folder)"),
)


def _databases(ctx: Context) -> Iterator[tuple[ProjectFacts, DatabaseFacts]]:
    """The config's data.db, then every database found in the project without a config."""
    project: ProjectFacts | None = ctx.project
    if project is None:
        return
    for db in (project.database, *project.found_databases):
        if db is not None:
            yield project, db


def _db_location(project: ProjectFacts) -> tuple[Location, ...]:
    config = project.config
    if config is None or config.source is None:
        return ()
    return (Location(display_path(config.source), config.line_of("data.db")),)


@implements("ED220")
def database_unusable(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The database file cannot be read as SQLite, or holds no tables."""
    for project, db in _databases(ctx):
        if db.error is not None:
            meaning = next((text for key, text in DATABASE_ERRORS if key in db.error), f"cannot be read ({db.error})")
            message = f'data.db: {db.path} {meaning} (SQLite: "{db.error}")'
        elif db.size == 0:
            message = f"data.db: {db.path} is empty (0 bytes): a failed or interrupted copy"
        elif not db.tables:
            message = f"data.db: {db.path} is an SQLite database without tables: the wrong file, or not yet built"
        else:
            continue
        yield entry.finding(
            message,
            locations=_db_location(project),
            fixes=(
                hint("point data.db at the real database (copy it again if it was truncated)"),
            ),
        )


@implements("ED225")
def database_corrupt(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The schema reads but ``PRAGMA quick_check`` finds damaged pages."""
    for project, db in _databases(ctx):
        if db.corrupt is None:
            continue
        yield entry.finding(
            f'data.db: {db.path} has damaged pages (SQLite quick_check: "{db.corrupt}")',
            locations=_db_location(project),
            fixes=(hint("copy the database again from its source (or rebuild it); `sqlite3 DB .recover` "
                        "salvages what it can into a new file"),),
        )


def _query_location(query: QueryFacts, line: int | None) -> tuple[Location, ...]:
    return (Location(display_path(query.origin), line),) if query.origin is not None else ()


def _rename_fix(query: QueryFacts, name: UnknownName, config: TrainingConfig | None) -> Fix:
    best = name.suggestions[0]
    in_config = config is not None and query.origin == config.source
    in_script = query.origin is not None and query.origin.suffix == ".py" and ":" in query.name  # found in the project
    line_text = name.line_text or ""
    found = re.search(rf"(?<![\w.]){re.escape(name.written)}(?!\w)", line_text) if in_config or in_script else None
    if found is not None:
        # The name with one character of context on each side (the newline at a line's end): replacing
        # every occurrence cannot touch a longer name (ret_post_15 inside ret_post_15m), and edits on one
        # line stay independent.
        start, end = max(found.start() - 1, 0), min(found.end() + 1, len(line_text))
        old = line_text[start:end] + ("\n" if found.end() == len(line_text) else "")  # at the end: the newline
        edit = FileEdit(path=str(query.origin), action="replace", old=old, new=old.replace(name.written, best, 1))
        where = f"data.queries.{query.name}" if in_config else display_path(query.origin)  # type: ignore[arg-type]
        return Fix(
            title=f"write {best} instead of {name.written} in {where}",
            applicability=Applicability.UNSAFE,
            edits=(edit,),
        )
    return hint(
        (
            f"the built-in query {query.name!r} does not match this database: override it under "
            f"data.queries.{query.name} in envdoctor.yaml with {best} in place of {name.written}, "
            "or rename the column in the database"
        )
    )


@implements("ED221")
def query_unknown_name(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A query names a column or table the database does not have."""
    for project, db in _databases(ctx):
        for query in db.queries:
            for name in query.unknown:
                where = f"table {name.table}" if name.table else "the tables it reads"
                lacks = (
                    f"{where} has no column {name.written.split('.')[-1]!r}"
                    if name.kind == "column"
                    else f"the database has no table {name.written!r}"
                )
                closest = (f"; closest: {', '.join(name.suggestions)}" if name.suggestions
                           else "; no similar name exists")
                yield entry.finding(
                    f"query {query.name!r} names {name.written}, but {lacks} in {display_path(db.path)}"
                    f'{closest} (SQLite: "no such {name.kind}: {name.written}")',
                    locations=_query_location(query, name.line),
                    quotes=(f"no such {name.kind}: {name.written}",),
                    fixes=(_rename_fix(query, name, project.config),) if name.suggestions else (),
                )


@implements("ED222")
def query_does_not_compile(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A query fails to compile for another reason (syntax, ambiguity, not a SELECT)."""
    for _, db in _databases(ctx):
        for query in db.queries:
            if query.error is None:
                continue
            yield entry.finding(
                f"query {query.name!r} does not compile against {display_path(db.path)}: {query.error}",
                locations=_query_location(query, query.line),
                fixes=(
                    hint(f"fix the SQL of {query.name!r}; try it with `sqlite3 {db.path.name}`"),
                ),
            )


def rows_needed(config: TrainingConfig, query_name: str) -> int:
    """Rows the builder draws from one query: its share of ``data.samples`` (0 when not in the mix)."""
    return math.ceil(config.data.samples * config.data.mix.get(query_name, 0.0))


@implements("ED223")
def too_few_rows(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Tables a query reads are empty, or a query returns fewer rows than its share of the samples."""
    for project, db in _databases(ctx):
        empty = sorted({t for q in db.queries for t in q.tables_read if db.row_counts.get(t) == 0})
        for table in empty:
            readers = ", ".join(repr(q.name) for q in db.queries if table in q.tables_read)
            yield entry.finding(
                f"table {table} in {display_path(db.path)} is empty, and query {readers} reads it",
                severity=Severity.ERROR,
                locations=_db_location(project),
                fixes=(
                    hint("fill the table (or point data.db at the filled database)"),
                ),
            )
        config = project.config
        if config is None:
            continue
        for query in db.queries:
            need = rows_needed(config, query.name)
            if query.rows is None or need == 0 or query.rows >= need or set(query.tables_read) & set(empty):
                continue
            severity = Severity.ERROR if query.rows == 0 else entry.severity
            yield entry.finding(
                f"query {query.name!r} returns {query.rows} row(s), but data.samples "
                f"{config.data.samples} × data.mix.{query.name} {config.data.mix[query.name]:g} "
                f"needs {need}: the builder would repeat rows or run short",
                severity=severity,
                locations=_query_location(query, query.line),
                fixes=(
                    hint(f"lower data.samples or data.mix.{query.name}, or add data"),
                ),
            )


def _suits(kind: str, sqlite_type: str, value: object) -> bool:
    """Whether a value of ``sqlite_type`` survives the builder's use of a ``kind`` column."""
    if kind == "text":
        return sqlite_type != "blob"
    if sqlite_type in ("integer", "real"):
        return kind == "number" or sqlite_type == "integer" or float(value).is_integer()  # type: ignore[arg-type]
    if sqlite_type == "text":
        try:
            number = float(str(value))
        except ValueError:
            return False
        return kind == "number" or number.is_integer()
    return False


@implements("ED224")
def query_lacks_builder_columns(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A builder query returns none (or not all) of the columns the data stage reads, or the wrong types."""
    for _, db in _databases(ctx):
        for query in db.queries:
            needed = REQUIRED_COLUMNS.get(query.name)
            if needed is None or query.error or query.unknown or not query.columns:
                continue
            missing = [c for c in needed if c not in query.columns]
            wrong = [f"{c} ({query.samples[c][0]} {query.samples[c][1]!r}, read as {kind})"
                     for c, kind in needed.items() if c in query.samples and not _suits(kind, *query.samples[c])]
            if not missing and not wrong:
                continue
            problems = []
            if missing:
                problems.append(f"lacks {', '.join(missing)}, which the data builder reads by name (KeyError)")
            if wrong:
                problems.append(f"has values the builder cannot convert: {', '.join(wrong)}")
            yield entry.finding(
                f"query {query.name!r} returns {', '.join(query.columns)} from {display_path(db.path)} but "
                + "; and ".join(problems),
                locations=_query_location(query, query.line),
                fixes=(Fix(title=f"select {', '.join(missing or list(needed))} in query {query.name!r} "
                                 "(alias a column with AS to its expected name)",
                           applicability=Applicability.DISPLAY_ONLY),),
            )
