"""The SQLite database and the builder's queries, on real database files: ED220-ED223."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import pytest

from envdoctor.findings import Applicability, Severity
from envdoctor.project.database import connect_read_only, inspect
from envdoctor.project.queries import builtin_queries
from tests.helpers.files import BAD_NEWS_SQL, codes, run_rules, seed_db, write_config


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_sql(db: Path, sql: str):  # type: ignore[no-untyped-def]
    [query] = inspect(db, {"q": (sql, None, None)}).queries
    return query


def test_alias_resolves_to_its_table_and_every_unknown_column_is_reported(tmp_path: Path) -> None:
    query = check_sql(seed_db(tmp_path / "f.db"), BAD_NEWS_SQL)
    assert [(u.written, u.table, u.suggestions[0]) for u in query.unknown] == [
        ("ei.ret_post_15", "event_impacts", "ei.ret_post_15m"),
        ("ei.pre_ret_120", "event_impacts", "ei.pre_ret_120m"),
    ]


def test_correct_query_compiles_counts_rows_and_lists_tables_from_the_plan(tmp_path: Path) -> None:
    fixed = BAD_NEWS_SQL.replace("ret_post_15", "ret_post_15m").replace("pre_ret_120", "pre_ret_120m")
    query = check_sql(seed_db(tmp_path / "f.db", rows=7), fixed)
    assert query.unknown == () and query.error is None
    assert query.rows == 7 and query.tables_read == ("event_impacts", "news")


def test_views_and_unqualified_names(tmp_path: Path) -> None:
    db = seed_db(tmp_path / "f.db", rows=3)
    assert check_sql(db, "SELECT v.r15, v.title FROM impacts_view AS v").rows == 3
    assert check_sql(db, "SELECT v.r15, v.title FROM impacts_view AS v").tables_read == ("event_impacts", "news")
    [unknown] = check_sql(db, "SELECT v.r16 FROM impacts_view v").unknown
    assert (unknown.table, unknown.suggestions[0]) == ("impacts_view", "v.r15")
    [unknown] = check_sql(db, "SELECT ret_post_15 FROM event_impacts").unknown
    assert unknown.suggestions[0] == "ret_post_15m"


def test_unknown_table_and_other_errors(tmp_path: Path) -> None:
    db = seed_db(tmp_path / "f.db")
    [unknown] = check_sql(db, "SELECT * FROM new").unknown
    assert unknown.kind == "table" and unknown.suggestions[0] == "news"
    assert "syntax error" in (check_sql(db, "SELEC id FROM news").error or "")
    assert check_sql(db, "DELETE FROM news").error == "not a SELECT statement: the builder reads rows"
    assert "ambiguous column name: id" in (check_sql(db, "SELECT id FROM news n JOIN news m").error or "")


def test_parameters_compile_without_values(tmp_path: Path) -> None:
    query = check_sql(seed_db(tmp_path / "f.db"), "SELECT title FROM news WHERE id = ? AND source = ?")
    assert query.error is None and query.unknown == () and query.rows is None


def test_builtin_queries_compile_against_the_seed_schema(tmp_path: Path) -> None:
    facts = inspect(seed_db(tmp_path / "f.db"), {n: (sql, None, None) for n, sql in builtin_queries().items()})
    assert all(q.error is None and q.unknown == () for q in facts.queries)


def test_missing_database_is_never_created(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError), connect_read_only(tmp_path / "missing.db") as conn:
        conn.execute("SELECT 1 FROM sqlite_master").fetchall()
    assert not (tmp_path / "missing.db").exists()


def test_read_only_connection_cannot_write(tmp_path: Path) -> None:
    db = seed_db(tmp_path / "f.db")
    before = digest(db)
    with pytest.raises(sqlite3.OperationalError, match="readonly"), connect_read_only(db) as conn:
        conn.execute("DELETE FROM news")
    assert digest(db) == before


# --- rules through `check`'s project facts -------------------------------------------------------

CONFIG = """data:
  db: datasets/finance_analysis.db
  samples: {samples}
  mix: {{news: 1.0}}
  queries:
    news: |
      {sql}
"""


def project(tmp_path: Path, sql: str = "SELECT id FROM news", samples: int = 100, rows: int = 300) -> Path:
    seed_db(tmp_path / "datasets" / "finance_analysis.db", rows=rows)
    write_config(tmp_path, CONFIG.format(samples=samples, sql=sql.replace("\n", "\n      ")))
    return tmp_path


def test_unknown_columns_in_config_query_give_exact_line_edits(tmp_path: Path) -> None:
    project(tmp_path, BAD_NEWS_SQL)
    findings = run_rules(tmp_path, select=("ED22",))
    assert codes(findings) == ["ED221", "ED221"]
    by_name = {f.quotes[0]: f for f in findings}
    fix = by_name["no such column: ei.ret_post_15"].fixes[0]
    assert fix.applicability is Applicability.UNSAFE
    assert (fix.edits[0].old, fix.edits[0].new) == (" ei.ret_post_15,", " ei.ret_post_15m,")
    assert by_name["no such column: ei.ret_post_15"].locations[0].line == 7
    # applying both edits (replace every occurrence) yields a query SQLite accepts
    config = tmp_path / "envdoctor.yaml"
    text = config.read_text(encoding="utf-8")
    for finding in findings:
        edit = finding.fixes[0].edits[0]
        text = text.replace(edit.old or "", edit.new or "")
    config.write_text(text, encoding="utf-8")
    # it compiles now, but does not return what the builder reads (the seeds' next failure): ED224
    [left] = run_rules(tmp_path, select=("ED22",))
    assert left.code == "ED224" and "published_at" in left.message and "ret_post_60m" in left.message


def test_builtin_query_mismatch_points_at_the_pipeline_file(tmp_path: Path) -> None:
    db = tmp_path / "datasets" / "finance_analysis.db"
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE news (id INTEGER PRIMARY KEY, title TEXT, content TEXT, published_at TEXT, "
                       "source TEXT); CREATE TABLE event_impacts (news_id INT, star_level INT, pre_ret_120 REAL, "
                       "ret_post_15 REAL, ret_post_60m REAL);")
    conn.close()
    write_config(tmp_path, "data:\n  db: datasets/finance_analysis.db\n")
    findings = [f for f in run_rules(tmp_path, select=("ED221",))
                if "query 'news'" in f.message and "ret_post_15m" in f.message]
    assert findings and findings[0].locations[0].path.endswith("project/queries.py")
    assert findings[0].fixes[0].applicability is Applicability.DISPLAY_ONLY
    assert "data.queries.news" in findings[0].fixes[0].title


@pytest.mark.parametrize(("rows", "samples", "expected"), [
    (100, 100, []),
    (99, 100, [("ED223", Severity.WARNING)]),
])
def test_rows_against_samples_boundary(tmp_path: Path, rows: int, samples: int, expected: list) -> None:  # type: ignore[type-arg]
    project(tmp_path, samples=samples, rows=rows)
    assert [(f.code, f.severity) for f in run_rules(tmp_path, select=("ED223",))] == expected


def test_empty_table_is_an_error(tmp_path: Path) -> None:
    project(tmp_path, rows=0)
    findings = run_rules(tmp_path, select=("ED223",))
    assert {f.message.split(" in ")[0] for f in findings} == {"table news", "table event_impacts"}
    assert all(f.severity is Severity.ERROR and "is empty" in f.message for f in findings)
    assert "'news'" in next(f.message for f in findings if f.message.startswith("table news"))


@pytest.mark.parametrize(("content", "expected"), [
    (b"this is not sqlite " * 100, "is not an SQLite database"),
    (b"", "is empty (0 bytes)"),
])
def test_not_a_database_and_empty_file(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "finance_analysis.db").write_bytes(content)
    write_config(tmp_path, "data:\n  db: datasets/finance_analysis.db\n")
    findings = run_rules(tmp_path, select=("ED22",))
    assert codes(findings) == ["ED220"] and expected in findings[0].message


def test_corrupt_database(tmp_path: Path) -> None:
    db = seed_db(tmp_path / "datasets" / "finance_analysis.db")
    data = db.read_bytes()
    db.write_bytes(data[:100] + b"\xff" * 3000 + data[3100:])
    write_config(tmp_path, "data:\n  db: datasets/finance_analysis.db\n")
    [finding] = run_rules(tmp_path, select=("ED220",))
    assert "corrupt" in finding.message


def test_locked_database_is_a_finding_within_the_busy_timeout(tmp_path: Path) -> None:
    db = seed_db(tmp_path / "datasets" / "finance_analysis.db")
    write_config(tmp_path, "data:\n  db: datasets/finance_analysis.db\n")
    holder = sqlite3.connect(db, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        findings = run_rules(tmp_path, select=("ED220",))
        elapsed = time.monotonic() - start
    finally:
        holder.rollback()
        holder.close()
    assert codes(findings) == ["ED220"] and "locked" in findings[0].message
    assert elapsed < 10


def test_database_bytes_are_unchanged_by_a_check(tmp_path: Path) -> None:
    project(tmp_path, BAD_NEWS_SQL)
    db = tmp_path / "datasets" / "finance_analysis.db"
    before = digest(db), sorted(p.name for p in db.parent.iterdir())
    run_rules(tmp_path)
    assert (digest(db), sorted(p.name for p in db.parent.iterdir())) == before


def test_slow_count_is_bounded(tmp_path: Path) -> None:
    """A query that would run for minutes is cut by the progress-handler budget, not waited for."""
    db = seed_db(tmp_path / "f.db", rows=200)
    heavy = "SELECT a.id FROM news a, news b, news c, news d"  # 1.6e9 rows
    start = time.monotonic()
    query = check_sql(db, heavy)
    assert query.rows is None and time.monotonic() - start < 10


def test_query_with_a_syntax_error_is_ed222_and_a_correct_one_is_clean(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad", tmp_path / "good"
    project(bad, "SELEC id FROM news")
    findings = run_rules(bad, select=("ED22",))
    assert codes(findings) == ["ED222"] and "syntax error" in findings[0].message
    project(good, "SELECT id FROM news")
    assert codes(run_rules(good, select=("ED22",))) == ["ED224"]  # it compiles; it lacks the builder's columns


def test_result_columns_come_from_the_cursor_description(tmp_path: Path) -> None:
    db = seed_db(tmp_path / "f.db", rows=3)
    query = check_sql(db, "SELECT n.id, n.title AS headline FROM news n")
    assert query.columns == ("id", "headline") and query.samples["headline"] == ("text", "新闻1")


def test_builder_query_must_return_the_columns_and_types_the_builder_reads(tmp_path: Path) -> None:
    from envdoctor.project.queries import REQUIRED_COLUMNS

    full = ", ".join(f"{'ei' if c not in ('title', 'content', 'published_at', 'source') else 'n'}.{c}"
                     for c in REQUIRED_COLUMNS["news"])
    good = f"SELECT n.id, {full} FROM news n JOIN event_impacts ei ON ei.news_id = n.id"
    assert run_rules(project(tmp_path / "good", good), select=("ED224",)) == []
    # one column short: the boundary
    [finding] = run_rules(project(tmp_path / "short", good.replace(", ei.ret_post_60m", "")), select=("ED224",))
    assert "lacks ret_post_60m" in finding.message and finding.severity is Severity.ERROR
    # right names, wrong type: text where the builder calls float()
    [typed] = run_rules(project(tmp_path / "typed", good.replace("ei.ret_post_15m", "n.title AS ret_post_15m")),
                        select=("ED224",))
    assert "ret_post_15m (text" in typed.message and "read as number" in typed.message


def _folder_state(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir())


@pytest.mark.parametrize("pending", [False, True])
def test_wal_database_is_read_without_touching_any_side_file(tmp_path: Path, pending: bool) -> None:
    """`mode=ro` alone creates and rewrites -shm on a WAL database; the check must leave the folder as it was."""
    db = seed_db(tmp_path / "datasets" / "finance_analysis.db", rows=5)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.commit()
    conn.close()
    writer = None
    if pending:  # a writer that keeps its rows in -wal (no checkpoint) while the check runs
        writer = sqlite3.connect(db)
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("INSERT INTO news VALUES (99, 't', 'c', '2024-01-02 09:30', 's')")
        writer.commit()
    else:
        for side in ("-wal", "-shm"):
            (db.parent / (db.name + side)).unlink(missing_ok=True)
    write_config(tmp_path, "data:\n  db: datasets/finance_analysis.db\n")
    before = _folder_state(db.parent)
    time.sleep(0.01)
    facts = inspect(db, {})
    assert facts.error is None and facts.corrupt is None
    assert facts.row_counts["news"] == (6 if pending else 5)  # pending rows in -wal are seen
    assert run_rules(tmp_path, select=("ED220", "ED225")) == []
    assert _folder_state(db.parent) == before
    if writer is not None:
        writer.close()


def test_damaged_data_pages_are_a_finding_before_training(tmp_path: Path) -> None:
    db = seed_db(tmp_path / "datasets" / "finance_analysis.db", rows=2000)
    data = bytearray(db.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle:middle + page] = b"\x0d" + b"\xff" * (page - 1)  # a leaf-table page with garbage cells
    db.write_bytes(bytes(data))
    write_config(tmp_path, "data:\n  db: datasets/finance_analysis.db\n")
    findings = run_rules(tmp_path, select=("ED22",))
    assert "ED225" in codes(findings)
    assert "has damaged pages (SQLite quick_check:" in next(f.message for f in findings if f.code == "ED225")
