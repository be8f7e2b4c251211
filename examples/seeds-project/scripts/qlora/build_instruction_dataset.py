"""The seeds' dataset builder, as it was on Colab (with the seeds' wrong column name)."""

import sqlite3

DB_PATH = "/content/drive/MyDrive/Graduation_Project/datasets/finance_analysis.db"


def load_news():
    conn = sqlite3.connect(DB_PATH)
    cur = conn.cursor()
    cur.execute("""
        SELECT n.id, n.title, n.content, n.published_at, n.source,
               ei.star_level, ei.ret_post_15, ei.ret_post_60m
        FROM news n JOIN event_impacts ei ON ei.news_id = n.id
    """)
    return cur.fetchall()
