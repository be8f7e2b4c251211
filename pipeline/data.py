"""The data stage: SQLite rows → instruction samples (60/20/20 news/market/earnings), deduplicated and split.

Stdlib only.  The database is opened read-only (``file:...?mode=ro``) and read with
:func:`envdoctor.project.queries.builtin_queries` (or the config's overrides).  Without a
database the news and market samples come from the sample generator's templates, and the
run record says so.  Same config and seed → byte-identical ``instructions.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.errors import InputError
from envdoctor.project.database import connect_read_only
from envdoctor.userfiles import check_output
from envdoctor.pipeline import sample_db
from envdoctor.project import queries
from envdoctor.project.config import DataConfig

INSTRUCTIONS = {
    "news": "分析以下财经快讯对市场的影响",
    "market": "根据消息发布前后的价格走势，判断市场是否已提前消化该消息",
    "earnings": "解读以下财报摘要，并给出投资者需要关注的要点",
}
EARNINGS_METRICS = ("营业收入", "净利润", "经营性现金流", "毛利率")


@dataclass(frozen=True)
class DataRecord:
    """What the data stage produced, for the run record (training_info.json)."""

    source: str  # "database" or "templates"
    db: str | None
    path: str
    sha256: str
    counts: dict[str, int]
    train: int
    eval: int
    duplicates_removed: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _pct(value: float) -> str:
    return f"{abs(value) * 100:.2f}%"


def _move(value: float) -> str:
    return "上涨" if value > 0 else "下跌" if value < 0 else "持平"


def news_sample(row: dict[str, Any]) -> dict[str, str]:
    """A news-impact sample from one joined row."""
    post15, post60 = float(row["ret_post_15m"]), float(row["ret_post_60m"])
    tone = "利好" if post60 > 0.001 else "利空" if post60 < -0.001 else "中性"
    stars = int(row["star_level"])
    level = "高星级" if stars >= 4 else "中等星级" if stars == 3 else "低星级"
    advice = ("建议投资者关注后续市场反应，结合技术面和基本面综合判断。" if stars >= 4
              else "该消息影响有限，可作为参考信息。")
    output = (f"这是一条{level}（{stars}星）的财经快讯，属于{tone}消息。从市场反应来看，消息发布后15分钟"
              f"{_move(post15)}{_pct(post15)}，60分钟累计{_move(post60)}{_pct(post60)}。{advice}")
    text = f"【{row['published_at']} {row['source'] or '未知来源'}】{row['title']}：{row['content'] or ''}"
    return {"kind": "news", "instruction": INSTRUCTIONS["news"], "input": text, "output": output}


def market_sample(row: dict[str, Any]) -> dict[str, str]:
    """A priced-in / wait-and-see sample from the pre-news run-up and the post-news move."""
    pre, post60 = float(row["pre_ret_120m"]), float(row["ret_post_60m"])
    if abs(pre) >= 0.002 and pre * post60 < 0:
        verdict = "消息发布前价格已提前反应，发布后反向波动，属于典型的“预期兑现”。"
    elif abs(pre) >= 0.002:
        verdict = "消息发布前后价格同向运动，趋势仍在延续，可顺势关注但需控制仓位。"
    else:
        verdict = "消息发布前价格未明显反应，发布后的波动才是对消息的真实定价，属于“超预期”或“观望信号”。"
    text = (f"{row['title']}。消息发布前120分钟{_move(pre)}{_pct(pre)}，"
            f"发布后60分钟{_move(post60)}{_pct(post60)}。")
    return {"kind": "market", "instruction": INSTRUCTIONS["market"], "input": text, "output": verdict}


def earnings_sample(rng: random.Random) -> dict[str, str]:
    """A simulated earnings Q&A (the seeds' 20% template share)."""
    company = rng.choice(sample_db.COMPANIES)
    year = rng.choice((2023, 2024, 2025))
    revenue, growth = rng.randint(50, 3000), rng.randint(-30, 60)
    profit_growth = growth + rng.randint(-20, 20)
    metric = rng.choice(EARNINGS_METRICS)
    text = (f"{company}{year}年实现营业收入{revenue}亿元，同比{'增长' if growth >= 0 else '下降'}{abs(growth)}%；"
            f"净利润同比{'增长' if profit_growth >= 0 else '下降'}{abs(profit_growth)}%。")
    if growth >= 0 and profit_growth >= growth:
        view = "收入与利润同步增长且利润增速更快，盈利能力改善。"
    elif growth >= 0:
        view = "收入增长但利润增速落后，需关注成本和费用的变化。"
    else:
        view = "收入下滑，业绩承压，需关注行业景气度和公司应对措施。"
    output = f"{view}投资者还应关注{metric}的变化和管理层对下一年度的指引。"
    return {"kind": "earnings", "instruction": INSTRUCTIONS["earnings"], "input": text, "output": output}


def _shares(total: int, mix: dict[str, float]) -> dict[str, int]:
    """Integer counts per kind that sum to ``total`` (largest remainders get the leftovers)."""
    raw = {kind: total * share for kind, share in mix.items()}
    counts = {kind: int(value) for kind, value in raw.items()}
    for kind in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[:total - sum(counts.values())]:
        counts[kind] += 1
    return counts


def read_rows(db: Path, sql: str, name: str) -> list[dict[str, Any]]:
    """Rows of one builder query, from the database opened read-only."""
    if not db.is_file():
        raise InputError(f"{db}: no such database (data.db); fix the path, or set data.db: null "
                         "for a template-only data set")
    try:
        with connect_read_only(db) as connection:
            cursor = connection.execute(sql)
            columns = [c[0] for c in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    except (sqlite3.DatabaseError, OSError) as exc:
        raise InputError(f"{db}: the {name!r} query failed ({exc}); `envdoctor check` compares the "
                         "database's columns with the builder's queries") from None


def _source_rows(config: DataConfig, kind: str) -> list[dict[str, Any]]:
    sql = {**queries.builtin_queries(), **config.queries}[kind]
    assert config.db is not None
    rows = read_rows(config.db, sql, kind)
    missing = [c for c in queries.RESULT_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise InputError(f"{config.db}: the {kind!r} query returns no column(s) {', '.join(missing)}; "
                         f"data.queries.{kind} must return {', '.join(queries.RESULT_COLUMNS)}")
    if not rows:
        raise InputError(f"{config.db}: the {kind!r} query returned no rows; is the database empty? "
                         "Fill it, or set data.db: null for a template-only data set")
    return rows


def _template_rows() -> list[dict[str, Any]]:
    news, impacts = sample_db.rows()
    return [dict(zip(queries.RESULT_COLUMNS, (*n, *i[2:]), strict=True))
            for n, i in zip(news, impacts, strict=True)]


def build_samples(config: DataConfig) -> tuple[list[dict[str, str]], DataRecord]:
    """The deduplicated, split samples and their record (the file is not written here)."""
    rng = random.Random(config.seed)
    counts = _shares(config.samples, config.mix)
    notes: list[str] = []
    unknown = sorted(set(counts) - set(INSTRUCTIONS))
    if unknown:
        raise InputError(f"data.mix: unknown source(s) {', '.join(unknown)}; use {', '.join(INSTRUCTIONS)}")
    templates = _template_rows() if config.db is None else None
    if templates is not None:
        notes.append("no database (data.db: null): news and market samples come from templates")
    samples: list[dict[str, str]] = []
    duplicates = 0
    seen: set[tuple[str, str]] = set()
    for kind in ("news", "market", "earnings"):
        wanted = counts.get(kind, 0)
        if not wanted:
            continue
        if kind == "earnings":
            candidates = [earnings_sample(rng) for _ in range(wanted * 3)]
        else:
            rows = templates if templates is not None else _source_rows(config, kind)
            rows = list(rows)
            rng.shuffle(rows)
            builder = news_sample if kind == "news" else market_sample
            try:
                candidates = [builder(row) for row in rows]
            except (TypeError, ValueError, KeyError) as exc:
                raise InputError(f"{config.db}: the {kind!r} query returned a value of the wrong type ({exc}); "
                                 f"data.queries.{kind} must return {', '.join(queries.RESULT_COLUMNS)} with "
                                 "numbers where numbers are expected") from None
        taken = 0
        for sample in candidates:
            key = (sample["instruction"], sample["input"])
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            samples.append(sample)
            taken += 1
            if taken == wanted:
                break
        if taken < wanted:
            notes.append(f"{kind}: {taken} of {wanted} samples (not enough distinct rows)")
    order = list(range(len(samples)))
    rng.shuffle(order)
    n_eval = round(len(samples) * config.eval_fraction) if len(samples) > 1 else 0
    if config.eval_fraction > 0 and len(samples) > 1:
        n_eval = max(1, n_eval)
    held_out = set(order[:n_eval])
    for i, sample in enumerate(samples):
        sample["split"] = "eval" if i in held_out else "train"
    record = DataRecord(source="templates" if templates is not None else "database",
                        db=str(config.db) if config.db is not None else None, path=str(config.output),
                        sha256="", counts=dict(Counter(s["kind"] for s in samples)),
                        train=len(samples) - n_eval, eval=n_eval, duplicates_removed=duplicates, notes=notes)
    return samples, record


def run(config: DataConfig) -> DataRecord:
    """Build the samples and write ``config.output`` (JSONL, atomically); returns the record with its hash."""
    samples, record = build_samples(config)
    if record.train == 0:
        raise InputError(f"data: no training samples were built ({'; '.join(record.notes) or 'none'})")
    payload = "".join(json.dumps(s, ensure_ascii=False, sort_keys=True) + "\n" for s in samples).encode("utf-8")
    if "\0" in str(config.output):
        raise InputError(f"data.output: {str(config.output)!r} holds a NUL byte; name a file")
    output = check_output(Path(config.output))
    partial = output.with_name(output.name + ".partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(payload)
        os.replace(partial, output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"{output}: cannot write the data set ({exc.strerror}); free space or change "
                         "data.output") from None
    return DataRecord(**{**record.to_dict(), "sha256": hashlib.sha256(payload).hexdigest()})


def load_split(path: Path, split: str) -> list[dict[str, str]]:
    """The samples of one split (``train`` or ``eval``) from a written ``instructions.jsonl``."""
    with path.open(encoding="utf-8") as handle:
        return [s for s in map(json.loads, handle) if s["split"] == split]
