"""The data stage on real SQLite files: mix, determinism, dedup, held-out split, read-only, errors."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from envdoctor.errors import InputError
from envdoctor.pipeline import data, sample_db
from envdoctor.project.config import DataConfig


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_db.build(tmp_path_factory.mktemp("db") / "finance_analysis.db")


def _lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_mix_split_and_determinism(db: Path, tmp_path: Path) -> None:
    first = data.run(DataConfig(db=db, output=tmp_path / "a.jsonl", samples=100, eval_fraction=0.2, seed=3))
    again = data.run(DataConfig(db=db, output=tmp_path / "b.jsonl", samples=100, eval_fraction=0.2, seed=3))
    other = data.run(DataConfig(db=db, output=tmp_path / "c.jsonl", samples=100, eval_fraction=0.2, seed=4))
    assert first.counts == {"news": 60, "market": 20, "earnings": 20}
    assert (first.train, first.eval) == (80, 20)
    assert first.sha256 == again.sha256 != other.sha256
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    rows = _lines(tmp_path / "a.jsonl")
    train = {(r["instruction"], r["input"]) for r in rows if r["split"] == "train"}
    held_out = {(r["instruction"], r["input"]) for r in rows if r["split"] == "eval"}
    assert len(train) == 80 and len(held_out) == 20 and not train & held_out
    assert first.source == "database" and first.notes == []


def test_duplicates_in_the_database_are_dropped(db: Path, tmp_path: Path) -> None:
    record = data.run(DataConfig(db=db, output=tmp_path / "all.jsonl", samples=300, seed=1))
    rows = _lines(tmp_path / "all.jsonl")
    keys = [(r["instruction"], r["input"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert record.duplicates_removed > 0  # the sample DB reprints every 40th story verbatim


def test_database_is_opened_read_only_and_left_unchanged(db: Path, tmp_path: Path) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    db.chmod(0o444)
    try:
        data.run(DataConfig(db=db, output=tmp_path / "x.jsonl", samples=20))
    finally:
        db.chmod(0o644)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not Path(str(db) + "-journal").exists()


def test_template_fallback_is_recorded(tmp_path: Path) -> None:
    record = data.run(DataConfig(db=None, output=tmp_path / "t.jsonl", samples=50))
    assert record.source == "templates" and record.db is None
    assert any("templates" in note for note in record.notes)
    assert sum(record.counts.values()) == 50


def test_missing_database_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.db: no such database"):
        data.run(DataConfig(db=tmp_path / "nope.db", output=tmp_path / "o.jsonl"))
    assert not (tmp_path / "o.jsonl").exists()


def test_empty_database_says_which_query_failed(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.db: the 'news' query failed \(no such table: news\)"):
        data.run(DataConfig(db=empty, output=tmp_path / "o.jsonl"))


def test_database_without_rows_is_an_error(tmp_path: Path) -> None:
    hollow = tmp_path / "hollow.db"
    connection = sqlite3.connect(hollow)
    connection.executescript(sample_db.SCHEMA)
    connection.close()
    with pytest.raises(InputError, match="returned no rows"):
        data.run(DataConfig(db=hollow, output=tmp_path / "o.jsonl"))


def test_seed_column_typo_in_an_override_is_reported(db: Path, tmp_path: Path) -> None:
    from envdoctor.project.queries import builtin_queries

    broken = builtin_queries()["news"].replace("ei.ret_post_15m", "ei.ret_post_15")
    with pytest.raises(InputError, match="no such column: ei.ret_post_15"):
        data.run(DataConfig(db=db, queries={"news": broken}, output=tmp_path / "o.jsonl"))


def test_output_never_replaces_a_device_and_rejects_a_nul(db: Path, tmp_path: Path) -> None:
    for output, says in ((Path("/dev/full"), "not a regular file"), (tmp_path / "a\0b.jsonl", "NUL byte")):
        with pytest.raises(InputError, match=says):
            data.run(DataConfig(db=db, output=output, samples=10))
    assert Path("/dev/full").is_char_device()


def test_text_in_a_real_column_is_one_line_of_bad_input(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(db.read_bytes())
    conn = sqlite3.connect(bad)
    conn.execute("UPDATE event_impacts SET ret_post_15m = 'n/a'")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="returned a value of the wrong type"):
        data.run(DataConfig(db=bad, output=tmp_path / "out.jsonl", samples=10, mix={"news": 1.0}))
