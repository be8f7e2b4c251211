"""The README example, end to end: a real run (cp, sqlite3, a locale-codec read) and its explanation."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.helpers.explain import run_cli

RUN_SH = """cp content/drive/MyDrive/Graduation_Project/finance_analysis.db .
python build.py
python load.py
"""
BUILD_PY = """import sqlite3
conn = sqlite3.connect("datasets/finance_analysis.db")
rows = conn.execute("SELECT n.title, ei.ret_post_15 FROM news n JOIN event_impacts ei ON ei.news_id = n.id").fetchall()
"""
LOAD_PY = """# Python's open() without an explicit codec uses the locale's; on a Chinese-locale Windows: GBK
with open("data.jsonl", encoding="gbk") as f:
    print(f.read())
"""


def test_readme_example(tmp_path: Path) -> None:
    (tmp_path / "datasets").mkdir()
    drive = tmp_path / "content/drive/MyDrive/Graduation_Project/datasets"
    drive.mkdir(parents=True)
    for db in (tmp_path / "datasets/finance_analysis.db", drive / "finance_analysis.db"):
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE news (id INTEGER PRIMARY KEY, title TEXT)")
            conn.execute("CREATE TABLE event_impacts (news_id INTEGER, pre_ret_120m REAL, ret_post_15m REAL, "
                         "ret_post_60m REAL)")
        conn.close()
    (tmp_path / "data.jsonl").write_text('{"instruction": "分析以下财经快讯对市场的影响"}\n', encoding="utf-8")
    for name, text in (("run.sh", RUN_SH), ("build.py", BUILD_PY), ("load.py", LOAD_PY)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "envdoctor.yaml").write_text("data:\n  db: datasets/finance_analysis.db\n", encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log = subprocess.run(["bash", "run.sh"], cwd=tmp_path, capture_output=True, text=True, env=env).stderr
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    assert "no such column: ei.ret_post_15" in log and "'gbk' codec can't decode" in log

    proc = run_cli("run.log", "--format", "json", cwd=tmp_path)
    findings = {f["code"]: f for f in json.loads(proc.stdout)["findings"]}
    assert proc.returncode == 1 and set(findings) == {"ED210", "ED221", "ED606"}
    assert findings["ED210"]["confidence"] == "high"
    assert "Graduation_Project/datasets/finance_analysis.db" in findings["ED210"]["message"]
    assert findings["ED221"]["confidence"] == "high" and "event_impacts.ret_post_15m" in findings["ED221"]["message"]
    assert findings["ED606"]["fixes"][0]["env"] == {"PYTHONUTF8": "1"}
    lines = log.splitlines()
    for finding in findings.values():
        location = finding["locations"][0]
        assert lines[location["line"] - 1].strip() == finding["quotes"][0]
