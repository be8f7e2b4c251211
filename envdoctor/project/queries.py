"""The dataset builder's built-in SQL over the seeds' finance database.

Pure and stdlib-only: the `files` branch's schema rule compiles exactly these
statements against a user's database before a run, so `envdoctor check` reports
a missing column (the seeds' ``ei.ret_post_15`` vs ``ei.ret_post_15m``) before
the data stage would hit it.

Schema (see :mod:`envdoctor.pipeline.sample_db`)::

    news(id, title, content, published_at, source, ...)
    event_impacts(event_id, news_id, star_level, pre_ret_120m, ret_post_15m, ret_post_60m, ...)
"""

from __future__ import annotations

# Each query returns the same columns, in this order; the data stage reads them by name.
RESULT_COLUMNS: tuple[str, ...] = (
    "id", "title", "content", "published_at", "source",
    "star_level", "pre_ret_120m", "ret_post_15m", "ret_post_60m",
)

# What the data stage (pipeline/data.py: news_sample, market_sample) reads from each query's rows, by
# name, and how: "number" goes through float(), "integer" through int(), "text" into an f-string.
# `envdoctor check` (rule ED224) checks every builder query returns these columns.
REQUIRED_COLUMNS: dict[str, dict[str, str]] = {
    "news": {"ret_post_15m": "number", "ret_post_60m": "number", "star_level": "integer",
             "published_at": "text", "source": "text", "title": "text", "content": "text"},
    "market": {"pre_ret_120m": "number", "ret_post_60m": "number", "title": "text"},
}

_SELECT = """
SELECT n.id, n.title, n.content, n.published_at, n.source,
       ei.star_level, ei.pre_ret_120m, ei.ret_post_15m, ei.ret_post_60m
FROM news n
JOIN event_impacts ei ON ei.news_id = n.id
""".strip()

_NEWS = f"""{_SELECT}
WHERE n.title IS NOT NULL AND TRIM(n.title) <> ''
  AND ei.ret_post_15m IS NOT NULL AND ei.ret_post_60m IS NOT NULL
ORDER BY n.id"""

# Market-analysis samples: events whose price moved before the news (priced in) or
# whose post-news move is large, read together with the pre-news 120-minute run-up.
_MARKET = f"""{_SELECT}
WHERE ei.pre_ret_120m IS NOT NULL AND ei.ret_post_60m IS NOT NULL
  AND (ABS(ei.pre_ret_120m) >= 0.002 OR ABS(ei.ret_post_60m) >= 0.002)
ORDER BY n.id"""


def builtin_queries() -> dict[str, str]:
    """The builder's SQL by sample kind: ``news`` and ``market`` (``earnings`` is template-only).

    A config's ``data.queries`` may override any of them by name; an override must
    return :data:`RESULT_COLUMNS`.
    """
    return {"news": _NEWS, "market": _MARKET}
