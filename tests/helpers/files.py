"""Shared builders for the files-and-data tests: real files, real SQLite databases, real rule runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from envdoctor.engine import core as engine
from envdoctor.engine.check import CheckRequest, build_context
from envdoctor.env.snapshot import Distribution, Snapshot
from envdoctor.findings import Finding
from envdoctor.knowledge import base as knowledge

SEED_SCHEMA = """
CREATE TABLE news (id INTEGER PRIMARY KEY, title TEXT NOT NULL, content TEXT, published_at TEXT, source TEXT);
CREATE TABLE event_impacts (
    event_id INTEGER PRIMARY KEY, news_id INTEGER NOT NULL REFERENCES news(id), star_level INTEGER,
    pre_ret_120m REAL, ret_post_15m REAL, ret_post_60m REAL);
CREATE VIEW impacts_view AS
    SELECT n.id AS news_id, n.title, ei.ret_post_15m AS r15 FROM news n JOIN event_impacts ei ON ei.news_id = n.id;
"""
BAD_NEWS_SQL = ("SELECT n.id, n.title, ei.ret_post_15, ei.pre_ret_120\n"
                "FROM news n JOIN event_impacts ei ON ei.news_id = n.id")

KB = knowledge.load()


def seed_db(path: Path, rows: int = 300) -> Path:
    """A real SQLite file with the seeds' schema (news ⋈ event_impacts, a view) and ``rows`` events."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(SEED_SCHEMA)
    conn.executemany("INSERT INTO news VALUES (?, ?, ?, ?, ?)",
                     [(i, f"新闻{i}", "内容", "2024-01-01 09:30", "财联社") for i in range(1, rows + 1)])
    conn.executemany("INSERT INTO event_impacts VALUES (?, ?, ?, ?, ?, ?)",
                     [(i, i, 3, 0.004, 0.003, 0.005) for i in range(1, rows + 1)])
    conn.commit()
    conn.close()
    return path


def write_config(folder: Path, text: str) -> Path:
    path = folder / "envdoctor.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(**versions: str) -> Snapshot:
    """A target environment holding exactly ``versions`` (name=version)."""
    return Snapshot(source="test", python_version="3.11.7",
                    distributions={name: Distribution(name=name, version=v) for name, v in versions.items()})


def run_rules(project: Path, select: tuple[str, ...] = ("ED2",), snap: Snapshot | None = None,
              **request: object) -> list[Finding]:
    """Collect the project facts of ``project`` and run the selected rules, as `envdoctor check` does."""
    req = CheckRequest(project_path=project, select=select, **request)  # type: ignore[arg-type]
    ctx = build_context(req, kb=KB, snap=snap or snapshot())
    return engine.run(ctx, engine.select_rules(KB, select))


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]
