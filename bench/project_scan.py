"""How much the files-and-data checks add to `envdoctor check`, beside `check --no-project` in the same run.

Builds two throwaway projects (small: the issue's "Done when" folder plus 60 source files with
Chinese comments; large: 2,000 data/config files) and prints the median wall time of

  * `envdoctor check --no-project`   (the peer: environment rules only),
  * `envdoctor check`                (environment + files, data and configs),
  * `project.collect()` in-process   (the scan, paths, SQLite and config work alone).

Run: python bench/project_scan.py
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envdoctor.engine.check import CheckRequest
from envdoctor.env.snapshot import Snapshot
from envdoctor.project import facts as project

RUNS = 5
SQL = "SELECT n.id, ei.ret_post_15 FROM news n JOIN event_impacts ei ON ei.news_id = n.id"


def build_small(root: Path) -> Path:
    (root / "datasets").mkdir(parents=True)
    conn = sqlite3.connect(root / "datasets" / "finance_analysis.db")
    conn.executescript("CREATE TABLE news (id INTEGER PRIMARY KEY, title TEXT); CREATE TABLE event_impacts "
                       "(news_id INT, ret_post_15m REAL, pre_ret_120m REAL);")
    conn.executemany("INSERT INTO news VALUES (?, ?)", [(i, f"新闻{i}") for i in range(3000)])
    conn.executemany("INSERT INTO event_impacts VALUES (?, 0.1, 0.2)", [(i,) for i in range(3000)])
    conn.commit()
    conn.close()
    (root / "requirements.txt").write_bytes("torch\npeft\n".encode("utf-16"))
    (root / "envdoctor.yaml").write_text(f"data:\n  db: finance_analysis.db\n  queries:\n    news: {SQL}\n")
    for index in range(60):
        (root / "scripts").mkdir(exist_ok=True)
        (root / "scripts" / f"step_{index}.py").write_text(f"# 第{index}步：构建指令数据集\nprint({index})\n" * 40)
    return root


def build_large(root: Path) -> Path:
    for index in range(2000):
        folder = root / "data" / f"shard_{index // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part_{index}.jsonl").write_text('{"instruction": "总结", "output": "好"}\n' * 20)
    return root


def median_wall(argv: list[str], cwd: Path) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_collect(root: Path) -> float:
    snap = Snapshot(source="bench", python_version="3.11")
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        project.collect(CheckRequest(project_path=root), snap)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    cli = [sys.executable, "-m", "envdoctor", "check", "--format", "json"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, builder in (("small", build_small), ("large", build_large)):
            root = builder(Path(tmp) / name)
            files = sum(1 for p in root.rglob("*") if p.is_file())
            peer = median_wall([*cli, "--no-project"], root)
            full = median_wall(cli, root)
            alone = median_collect(root)
            print(f"{name:5} ({files:4} files): check --no-project {peer:.2f} s | check {full:.2f} s "
                  f"(+{full - peer:.2f} s) | project.collect() alone {alone * 1000:.0f} ms  [median of {RUNS}]")


if __name__ == "__main__":
    main()
