"""The builder's SQL runs on the bundled sample DB, and the sample DB is deterministic."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from envdoctor.pipeline import sample_db
from envdoctor.project import queries


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_builtin_queries_return_the_declared_columns_on_the_sample_db(tmp_path: Path) -> None:
    db = sample_db.build(tmp_path / "finance_analysis.db")
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    for name, sql in queries.builtin_queries().items():
        cursor = connection.execute(sql)
        assert tuple(c[0] for c in cursor.description) == queries.RESULT_COLUMNS, name
        assert len(cursor.fetchall()) >= 100, name
    connection.close()
    titles = [row[1] for row in _rows(db, queries.builtin_queries()["news"])]
    assert any(t.startswith("美联储宣布加息25个基点") for t in titles)


def test_seed_column_typo_fails_on_the_sample_schema(tmp_path: Path) -> None:
    db = sample_db.build(tmp_path / "finance_analysis.db")
    broken = queries.builtin_queries()["news"].replace("ei.ret_post_15m", "ei.ret_post_15")
    with pytest.raises(sqlite3.OperationalError, match="no such column: ei.ret_post_15"):
        _rows(db, broken)


def test_sample_db_is_deterministic_and_never_overwrites(tmp_path: Path) -> None:
    a = sample_db.build(tmp_path / "a.db")
    b = sample_db.build(tmp_path / "b.db")
    sql = "SELECT * FROM news n JOIN event_impacts ei ON ei.news_id = n.id ORDER BY n.id"
    assert _rows(a, sql) == _rows(b, sql)
    with pytest.raises(FileExistsError):
        sample_db.build(a)
    assert sample_db.ensure(a) == a
