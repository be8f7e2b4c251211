"""Facts about the SQLite database the dataset builder reads, and about its queries.

The database is opened read-only through a ``mode=ro`` URI (SQLite never
creates a missing file or writes in this mode; a WAL database is opened ``immutable``
or read from a copy, see :func:`connect_read_only`), checked with ``PRAGMA
quick_check``, with a busy timeout for locked
files and a progress-handler deadline for slow counts.  Each query is compiled
by SQLite itself with ``EXPLAIN`` (so aliases, joins and views resolve exactly
as at run time, and nothing is executed); an unknown column or table is looked
up among the real columns of the table its alias names, the closest name is
substituted and the query compiled again, so every wrong name is reported, not
only the first.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import shutil
import sqlite3
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

BUSY_TIMEOUT_S = 1.0
COUNT_BUDGET_S = 2.0
CHECK_BUDGET_S = 5.0
MAX_REPAIRS = 10
SQL_KEYWORDS = frozenset({"where", "join", "inner", "left", "right", "full", "cross", "natural", "on", "using",
                          "group", "order", "limit", "union", "except", "intersect", "window", "having", "as"})
TABLE_REF = re.compile(r"\b(?:from|join)\s+[\"`\[]?(\w+)[\"`\]]?(?:\s+(?:as\s+)?[\"`\[]?(\w+)[\"`\]]?)?",
                       re.IGNORECASE)
UNKNOWN = re.compile(r"no such (column|table): (?:(\w+)\.)?(\w+)")
BINDINGS = re.compile(r"uses (\d+), and there (?:are|is) \d+ supplied")


@dataclass(frozen=True)
class UnknownName:
    """A column or table a query names that the database lacks.

    ``written`` is the text as in the query (``ei.ret_post_15``); ``table`` the
    table its qualifier stands for; ``suggestions`` the closest real names,
    best first, written the same way (``ei.ret_post_15m``); ``line`` the line
    of the file holding the query where the name is written, ``line_text`` that line.
    """

    kind: str
    written: str
    table: str | None
    suggestions: tuple[str, ...]
    line: int | None = None
    line_text: str | None = None


@dataclass(frozen=True)
class QueryFacts:
    """One statement the dataset builder will run, and what SQLite said about it.

    ``origin`` is the file holding the SQL and ``line`` where it starts there.
    ``rows`` is how many rows it returns (None when not counted) and
    ``tables_read`` the tables SQLite's plan opens; ``columns`` the names of its result columns
    (``cursor.description`` of the query under ``LIMIT 0``) and ``samples`` one non-NULL value per
    column with SQLite's ``typeof`` (empty when not sampled in time).
    """

    name: str
    sql: str
    origin: Path | None
    line: int | None
    unknown: tuple[UnknownName, ...] = ()
    error: str | None = None
    rows: int | None = None
    tables_read: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    samples: Mapping[str, tuple[str, object]] = field(default_factory=dict)


@dataclass(frozen=True)
class DatabaseFacts:
    """The database file, its tables and row counts, and each query's compile result.

    ``error`` is set when the file cannot be used at all (not a database, corrupt, locked);
    ``corrupt`` holds ``PRAGMA quick_check``'s first problems when the schema reads but pages are damaged.
    """

    path: Path
    size: int
    error: str | None = None
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    row_counts: Mapping[str, int] = field(default_factory=dict)
    queries: tuple[QueryFacts, ...] = ()
    corrupt: str | None = None


def _is_wal(path: Path) -> bool:
    """Whether the database header says WAL mode (file format bytes 18-19 are 2)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[:16] == b"SQLite format 3\0" and header[18:20] == b"\x02\x02"


@contextlib.contextmanager
def connect_read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that writes nothing beside ``path`` and never creates it.

    ``mode=ro`` alone still creates and writes the ``-shm`` index of a WAL database,
    so a WAL database without pending ``-wal`` content is opened ``immutable=1``; one
    with pending content is copied (with its ``-wal``) to a temp folder and read there.
    """
    target = path.resolve()
    wal = target.with_name(target.name + "-wal")
    if not _is_wal(target):
        conn = sqlite3.connect(f"file:{urllib.parse.quote(str(target))}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            yield conn
        finally:
            conn.close()
        return
    if not wal.is_file() or wal.stat().st_size == 0:
        conn = sqlite3.connect(f"file:{urllib.parse.quote(str(target))}?mode=ro&immutable=1", uri=True)
        try:
            yield conn
        finally:
            conn.close()
        return
    with tempfile.TemporaryDirectory(prefix="envdoctor-db-") as folder:
        copy = Path(folder) / "copy.db"
        shutil.copyfile(target, copy)
        shutil.copyfile(wal, Path(folder) / "copy.db-wal")
        conn = sqlite3.connect(f"file:{urllib.parse.quote(str(copy))}", uri=True)
        try:
            yield conn
        finally:
            conn.close()


def quick_check(conn: sqlite3.Connection) -> str | None:
    """SQLite's ``PRAGMA quick_check`` first problem (None when ``ok``, or when it runs past its budget)."""
    deadline = time.monotonic() + CHECK_BUDGET_S
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.OperationalError as exc:
        return None if "interrupted" in str(exc) else str(exc)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.set_progress_handler(None, 0)
    problems = [str(row[0]) for row in rows if row and row[0] != "ok"]
    return "; ".join(problems)[:300] if problems else None


def read_schema(conn: sqlite3.Connection) -> tuple[dict[str, tuple[str, ...]], dict[int, str]]:
    """Columns of every table and view, and root page → table name for reading EXPLAIN plans."""
    tables: dict[str, tuple[str, ...]] = {}
    pages: dict[int, str] = {}
    for name, kind, rootpage, table in conn.execute(
            "SELECT name, type, rootpage, tbl_name FROM sqlite_master WHERE type IN ('table', 'view', 'index')"):
        if kind in ("table", "view"):
            tables[name] = tuple(row[1] for row in conn.execute(f"PRAGMA table_info({_quote(name)})"))
        if rootpage:
            pages[rootpage] = table
    return tables, pages


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _aliases(sql: str) -> dict[str, str]:
    """Alias (and table name) → table for the FROM/JOIN clauses of ``sql`` (lower-cased keys)."""
    found: dict[str, str] = {}
    for match in TABLE_REF.finditer(sql):
        table, alias = match.group(1), match.group(2)
        found[table.lower()] = table
        if alias and alias.lower() not in SQL_KEYWORDS:
            found[alias.lower()] = table
    return found


def _explain(conn: sqlite3.Connection, sql: str) -> list[tuple]:
    try:
        return conn.execute(f"EXPLAIN {sql}").fetchall()
    except sqlite3.ProgrammingError as exc:
        wanted = BINDINGS.search(str(exc))
        if wanted is None:
            raise
        return conn.execute(f"EXPLAIN {sql}", [None] * int(wanted.group(1))).fetchall()


def closest_names(name: str, candidates: list[str]) -> list[str]:
    """Up to three names from ``candidates`` closest to ``name`` (case-insensitive)."""
    lowered = {c.lower(): c for c in candidates}
    return [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]


def _unknown_name(message: str, sql: str, tables: Mapping[str, tuple[str, ...]]) -> UnknownName | None:
    match = UNKNOWN.search(message)
    if match is None:
        return None
    kind, qualifier, name = match.groups()
    written = f"{qualifier}.{name}" if qualifier else name
    if kind == "table":
        return UnknownName("table", written, None, tuple(closest_names(name, list(tables))))
    aliases = _aliases(sql)
    table = aliases.get(qualifier.lower()) if qualifier else None
    if table is not None and table in tables:
        names = closest_names(name, list(tables[table]))
    else:  # unqualified or unresolved: any table the query reads
        read = {t for t in aliases.values() if t in tables} or set(tables)
        names = closest_names(name, [c for t in sorted(read) for c in tables[t]])
        table = None
    prefix = f"{qualifier}." if qualifier else ""
    return UnknownName("column", written, table, tuple(prefix + n for n in names))


def _substitute(sql: str, written: str, replacement: str) -> str:
    return re.sub(rf"(?<![\w.]){re.escape(written)}(?!\w)", replacement, sql)


def _is_query(sql: str) -> bool:
    body = re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL).strip().lower()
    return body.startswith(("select", "with", "values"))


def _count(conn: sqlite3.Connection, sql: str) -> int | None:
    """Rows ``sql`` returns, or None when it takes longer than COUNT_BUDGET_S."""
    deadline = time.monotonic() + COUNT_BUDGET_S
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0])
    except sqlite3.Error:
        return None
    finally:
        conn.set_progress_handler(None, 0)


def result_columns(conn: sqlite3.Connection, sql: str) -> tuple[str, ...]:
    """The result column names of ``sql``, from ``cursor.description`` with ``LIMIT 0`` (no row is read)."""
    try:
        cursor = conn.execute(f"SELECT * FROM ({sql}) LIMIT 0")
    except sqlite3.Error:
        return ()
    return tuple(d[0] for d in cursor.description or ())


def sample_values(conn: sqlite3.Connection, sql: str, columns: tuple[str, ...]) -> dict[str, tuple[str, object]]:
    """One non-NULL value per column and its SQLite type (``typeof``), within COUNT_BUDGET_S."""
    found: dict[str, tuple[str, object]] = {}
    deadline = time.monotonic() + COUNT_BUDGET_S
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        for column in dict.fromkeys(columns):
            row = conn.execute(f"SELECT typeof(q.{_quote(column)}), q.{_quote(column)} FROM ({sql}) AS q "
                               f"WHERE q.{_quote(column)} IS NOT NULL LIMIT 1").fetchone()
            if row is not None:
                found[column] = (str(row[0]), row[1])
    except sqlite3.Error:
        pass
    finally:
        conn.set_progress_handler(None, 0)
    return found


def check_query(conn: sqlite3.Connection, name: str, sql: str, origin: Path | None, line: int | None,
                tables: Mapping[str, tuple[str, ...]], pages: Mapping[int, str]) -> QueryFacts:
    """Compile ``sql`` with SQLite; collect every unknown name (repairing each to find the next)."""
    statement = sql.strip().rstrip(";").strip()
    unknown: list[UnknownName] = []
    attempt = statement
    for _ in range(MAX_REPAIRS):
        try:
            plan = _explain(conn, attempt)
        except sqlite3.Error as exc:
            missing = _unknown_name(str(exc), attempt, tables)
            if missing is None:
                return QueryFacts(name, sql, origin, line, tuple(unknown), error=str(exc))
            unknown.append(missing)
            if not missing.suggestions:
                break
            attempt = _substitute(attempt, missing.written, missing.suggestions[0])
            continue
        if unknown:
            break
        if not _is_query(statement):
            return QueryFacts(name, sql, origin, line, error="not a SELECT statement: the builder reads rows")
        read = tuple(sorted({pages[row[3]] for row in plan if row[1] == "OpenRead" and row[3] in pages}))
        bound = "?" in statement or bool(re.search(r"[:@$]\w", statement))
        rows = None if bound else _count(conn, statement)
        columns = () if bound else result_columns(conn, statement)
        samples = sample_values(conn, statement, columns) if columns and rows else {}
        return QueryFacts(name, sql, origin, line, rows=rows, tables_read=read, columns=columns, samples=samples)
    return QueryFacts(name, sql, origin, line, tuple(unknown))


def inspect(path: Path, queries: Mapping[str, tuple[str, Path | None, int | None]]) -> DatabaseFacts:
    """Open ``path`` read-only, read its schema and row counts, and check each named query.

    ``queries`` maps a name to (sql, file holding it, line there).
    """
    size = path.stat().st_size
    try:
        with connect_read_only(path) as conn:
            tables, pages = read_schema(conn)
            if not tables:  # a 0-byte or fresh file: ED220 says so; every query would only repeat it
                return DatabaseFacts(path, size)
            corrupt = quick_check(conn)
            counts = {}
            for table in tables:
                if table in pages.values():
                    counted = _count(conn, f"SELECT 1 FROM {_quote(table)}")
                    if counted is not None:
                        counts[table] = counted
            checked = tuple(check_query(conn, name, sql, origin, line, tables, pages)
                            for name, (sql, origin, line) in queries.items())
            return DatabaseFacts(path, size, tables=tables, row_counts=counts, queries=checked, corrupt=corrupt)
    except (sqlite3.Error, OSError) as exc:
        return DatabaseFacts(path, size, error=str(exc))
