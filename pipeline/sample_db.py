"""Build the bundled sample ``finance_analysis.db``: Chinese finance news and their market impact.

The schema is the seeds' (``news`` joined to ``event_impacts`` on ``news_id``, returns named
``pre_ret_120m``, ``ret_post_15m``, ``ret_post_60m``).  The content is generated from a fixed
seed, so two builds hold the same rows.  Run ``python -m envdoctor.pipeline.sample_db PATH``.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
import sys
from pathlib import Path

SCHEMA = """
CREATE TABLE news (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    content TEXT,
    published_at TEXT NOT NULL,
    source TEXT
);
CREATE TABLE event_impacts (
    event_id INTEGER PRIMARY KEY,
    news_id INTEGER NOT NULL REFERENCES news(id),
    star_level INTEGER NOT NULL CHECK (star_level BETWEEN 1 AND 5),
    pre_ret_120m REAL,
    ret_post_15m REAL,
    ret_post_60m REAL
);
CREATE INDEX idx_event_impacts_news ON event_impacts(news_id);
"""

# (headline, one-sentence body, typical direction: +1 bullish, -1 bearish, 0 mixed, base stars)
EVENTS: tuple[tuple[str, str, int, int], ...] = (
    ("美联储宣布加息25个基点", "美联储将联邦基金利率目标区间上调25个基点，符合市场预期。", -1, 5),
    ("美联储宣布维持利率不变", "美联储议息会议决定维持利率不变，点阵图显示年内仍有降息空间。", 1, 5),
    ("央行宣布下调存款准备金率0.5个百分点", "中国人民银行决定下调金融机构存款准备金率，释放长期资金约1万亿元。", 1, 5),
    ("央行开展2000亿元逆回购操作", "央行公开市场开展7天期逆回购操作，中标利率持平。", 1, 3),
    ("国家统计局公布CPI同比上涨0.3%", "国家统计局数据显示，居民消费价格指数同比上涨0.3%，低于预期。", 0, 4),
    ("PMI连续三个月位于荣枯线以上", "制造业采购经理指数录得50.8%，新订单指数回升。", 1, 4),
    ("证监会发布减持新规", "证监会进一步规范上市公司股东减持行为，完善大宗交易减持规定。", 1, 4),
    ("印花税减半征收", "财政部、税务总局宣布证券交易印花税实施减半征收。", 1, 5),
    ("某新能源车企公布月度交付量同比增长45%", "公司当月交付新车同比增长45%，环比增长12%。", 1, 3),
    ("某白酒龙头发布年报净利润增长15%", "公司全年实现营业收入和净利润双位数增长，拟每股派发现金红利。", 1, 3),
    ("某地产公司债券展期", "公司公告拟对一笔境内公司债券进行展期，引发市场对信用风险的担忧。", -1, 4),
    ("国际油价单日大跌5%", "布伦特原油期货价格单日下跌5%，需求前景担忧升温。", -1, 3),
    ("人民币兑美元汇率升破7.1", "在岸人民币兑美元汇率盘中升破7.1关口，创近期新高。", 1, 3),
    ("美国非农就业人数大超预期", "美国上月新增非农就业人数远超市场预期，失业率维持低位。", -1, 4),
    ("半导体行业获国家大基金注资", "国家集成电路产业投资基金三期成立，注册资本超3000亿元。", 1, 4),
    ("某医药公司创新药获批上市", "公司自主研发的创新药获国家药监局批准上市。", 1, 2),
    ("某银行下调存款挂牌利率", "多家国有银行宣布下调人民币存款挂牌利率。", 0, 3),
    ("欧洲央行宣布降息25个基点", "欧洲央行下调三大关键利率各25个基点，为年内首次降息。", 1, 4),
    ("某科技公司遭遇出口管制", "公司被列入出口管制实体清单，部分产品供应受限。", -1, 4),
    ("沪深两市成交额突破1万亿元", "两市成交额连续两日突破1万亿元，北向资金净流入。", 1, 2),
)
COMPANIES = ("宁德时代", "贵州茅台", "比亚迪", "招商银行", "万科", "恒瑞医药", "中芯国际", "隆基绿能")
SOURCES = ("财联社", "新浪财经", "华尔街见闻", "证券时报", "东方财富", "上海证券报")
VARIANTS = ("", "（快讯）", "，市场反应积极", "，分析师称影响有限", "，市场关注后续政策")


def _rows(seed: int, count: int) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 6, 9, 30)
    news: list[tuple[object, ...]] = []
    impacts: list[tuple[object, ...]] = []
    for news_id in range(1, count + 1):
        headline, body, direction, stars = EVENTS[(news_id - 1) % len(EVENTS)]
        company = COMPANIES[rng.randrange(len(COMPANIES))]
        headline, body = headline.replace("某", company, 1), body.replace("公司", company, 1)
        variant = VARIANTS[rng.randrange(len(VARIANTS))]
        published = start + dt.timedelta(hours=7 * news_id + rng.randrange(0, 300) / 60)
        news.append((news_id, headline + variant, body, published.isoformat(sep=" ", timespec="minutes"),
                     SOURCES[rng.randrange(len(SOURCES))]))
        drift = direction if direction else rng.choice((-1, 1))
        post_15 = round(drift * abs(rng.gauss(0.004, 0.003)) * stars / 3, 5)
        post_60 = round(post_15 * rng.uniform(0.5, 1.8), 5)
        pre_120 = round(rng.gauss(0.0, 0.004), 5)
        star_level = max(1, min(5, stars + rng.choice((-1, 0, 0, 1))))
        impacts.append((news_id, news_id, star_level, pre_120, post_15, post_60))
    return news, impacts


def rows(seed: int = 20260209, count: int = 240) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The ``news`` and ``event_impacts`` rows of the sample DB; every 40th story is also reprinted verbatim."""
    news, impacts = _rows(seed, count)
    for original in news[::40]:
        reprint_id = len(news) + 1
        news.append((reprint_id, *original[1:]))
        impacts.append((reprint_id, reprint_id, *impacts[int(original[0]) - 1][2:]))  # type: ignore[call-overload]
    return news, impacts


def build(path: Path, seed: int = 20260209, count: int = 240) -> Path:
    """Write a fresh sample database at ``path`` (replacing none: refuses an existing file).

    The file is built beside ``path`` and renamed into place, so a crash leaves no half-written DB.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path}: already exists; the sample DB is only built where there is none")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    news, impacts = rows(seed, count)
    connection = sqlite3.connect(partial)
    try:
        with connection:
            connection.executescript(SCHEMA)
            connection.executemany("INSERT INTO news VALUES (?, ?, ?, ?, ?)", news)
            connection.executemany("INSERT INTO event_impacts VALUES (?, ?, ?, ?, ?, ?)", impacts)
    finally:
        connection.close()
    os.replace(partial, path)
    return path


def ensure(path: Path) -> Path:
    """The sample DB at ``path``, built if absent."""
    return path if Path(path).exists() else build(path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m envdoctor.pipeline.sample_db PATH")
    print(build(Path(sys.argv[1])))
