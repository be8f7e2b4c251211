"""A project understood without envdoctor.yaml: SQL in its code, its databases (inside the project
only), LLaMA-Factory/accelerate YAMLs by content, launch-line flags, notebooks."""

from __future__ import annotations

import json
from pathlib import Path

from envdoctor.project.discover import discover, launch_flags, yaml_kind
from envdoctor.project.scan import scan
from tests.helpers.core import envdoctor
from tests.helpers.files import codes, run_rules, seed_db

BUILDER = '''import sqlite3
open("IMPORTED", "w").write("the tool ran user code")
DB_PATH = '/content/drive/MyDrive/Graduation_Project/datasets/finance_analysis.db'


def load_news():
    conn = sqlite3.connect(DB_PATH)
    cur = conn.cursor()
    cur.execute("""
        SELECT n.id, n.title, ei.ret_post_15, ei.ret_post_60m
        FROM news n JOIN event_impacts ei ON ei.news_id = n.id
    """)
    return cur.fetchall()
'''
LAUNCH = "#!/bin/bash\nllamafactory-cli train \\\n    --model_name_or_path Qwen/Qwen2.5-7B-Instruct \\\n" \
         "    --flash_attn False \\\n    --quantization_bit 4  # QLoRA\n"
LF_YAML = "model_name_or_path: Qwen/Qwen2.5-7B-Instruct\nstage: sft\nfinetuning_type: lora\nflash_attn: False\n"


def seeds_like(root: Path) -> Path:
    """The seeds' layout: a builder script naming a Colab DB path, datasets/, a YAML and a launch script."""
    (root / "scripts" / "qlora").mkdir(parents=True)
    (root / "scripts" / "qlora" / "build_instruction_dataset.py").write_text(BUILDER, encoding="utf-8")
    seed_db(root / "datasets" / "finance_analysis.db", rows=20)
    (root / "configs").mkdir()
    (root / "configs" / "qwen_qlora.yaml").write_text(LF_YAML, encoding="utf-8")
    (root / "train.sh").write_text(LAUNCH, encoding="utf-8")
    return root


def test_seeds_like_project_is_understood_without_a_config(tmp_path: Path) -> None:
    root = seeds_like(tmp_path / "project")
    findings = run_rules(root, select=("ED22", "ED24"))
    assert codes(findings) == ["ED221", "ED240", "ED240"]
    sql = findings[0]
    assert "ei.ret_post_15" in sql.message and "ei.ret_post_15m" in sql.message
    assert (sql.locations[0].path.endswith("build_instruction_dataset.py"), sql.locations[0].line) == (True, 10)
    where = sorted(f.locations[0].path.rsplit("/", 1)[-1] for f in findings[1:])
    assert where == ["qwen_qlora.yaml", "train.sh"]
    assert not (root / "IMPORTED").exists() and not (Path.cwd() / "IMPORTED").exists()


def test_a_database_outside_the_project_is_never_used(tmp_path: Path) -> None:
    root = seeds_like(tmp_path / "project")
    (root / "datasets" / "finance_analysis.db").unlink()
    seed_db(tmp_path / "sibling" / "finance_analysis.db")  # same name, next to the project
    found = discover(root, scan(root))
    assert found.databases == () and any("not in the project" in n and "finance_analysis.db" in n for n in found.notes)
    assert codes(run_rules(root, select=("ED22",))) == []


def test_notebook_sql_and_shell_cells(tmp_path: Path) -> None:
    seed_db(tmp_path / "finance_analysis.db", rows=5)
    cells = [{"cell_type": "markdown", "source": ["# notes\n"]},
             {"cell_type": "code", "source": ["!pip install -q llamafactory\n",
                                              "!llamafactory-cli train --flash_attn=False --stage sft\n"]},
             {"cell_type": "code", "source": ["import pandas as pd, sqlite3\n",
                                              "conn = sqlite3.connect('finance_analysis.db')\n",
                                              "df = pd.read_sql('SELECT id, titel FROM news', conn)\n"]}]
    (tmp_path / "colab.ipynb").write_text(json.dumps({"cells": cells, "nbformat": 4}), encoding="utf-8")
    found = discover(tmp_path, scan(tmp_path))
    [query] = found.queries
    assert query.sql == "SELECT id, titel FROM news" and query.line == 6
    [launch] = found.launches
    assert launch.values == {"flash_attn": "False", "stage": "sft"} and launch.lines["flash_attn"][0] == 3
    assert codes(run_rules(tmp_path, select=("ED221", "ED240"))) == ["ED221", "ED240"]


def test_yaml_kinds_and_launch_flags() -> None:
    assert yaml_kind(LF_YAML) == "llamafactory"
    assert yaml_kind("compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nnum_processes: 2\n") \
        == "accelerate"
    assert yaml_kind("model_name_or_path: x\n") is None  # a model id alone is not a training config
    [flags] = launch_flags(LAUNCH.splitlines(), Path("train.sh"))
    assert flags.values == {"model_name_or_path": "Qwen/Qwen2.5-7B-Instruct", "flash_attn": "False",
                            "quantization_bit": "4"}
    assert launch_flags(["echo llamafactory is great"], Path("x.sh")) == []


def test_fix_rewrites_the_launch_flag(tmp_path: Path) -> None:
    root = seeds_like(tmp_path / "project")
    applied = envdoctor("fix", "--select", "ED240", "--apply", "--yes", cwd=root)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "--flash_attn disabled \\" in (root / "train.sh").read_text(encoding="utf-8")
    assert "flash_attn: disabled" in (root / "configs" / "qwen_qlora.yaml").read_text(encoding="utf-8")


def test_init_writes_what_it_found_and_check_still_reads_the_code(tmp_path: Path) -> None:
    root = seeds_like(tmp_path / "project")
    done = envdoctor("init", cwd=root)
    assert done.returncode == 0 and "data.db datasets/finance_analysis.db" in done.stderr, done.stderr
    config = (root / "envdoctor.yaml").read_text(encoding="utf-8")
    assert "\n  db: datasets/finance_analysis.db\n" in config
    assert "SQL in scripts/qlora/build_instruction_dataset.py:9" in config and "flags in train.sh" in config
    assert codes(run_rules(root, select=("ED221", "ED240"))) == ["ED221", "ED240", "ED240"]


def test_ignored_databases_are_not_the_projects(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("/out/\n", encoding="utf-8")
    seed_db(tmp_path / "out" / "run" / "finance_analysis.db")
    (tmp_path / "q.py").write_text('SQL = "SELECT titel FROM news"\n', encoding="utf-8")
    assert discover(tmp_path, scan(tmp_path)).databases == ()
    seed_db(tmp_path / "data" / "finance_analysis.db")
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path, scan(tmp_path)).databases] \
        == ["data/finance_analysis.db"]


def test_the_readme_walk_through_project(tmp_path: Path) -> None:
    """examples/make_seeds_project.py writes what the README's walk-through checks."""
    import runpy

    make = runpy.run_path(str(Path(__file__).resolve().parents[2] / "examples" / "make_seeds_project.py"))["make"]
    root = make(tmp_path / "seeds-project")
    assert codes(run_rules(root, select=("ED201", "ED221", "ED240"))) == ["ED221", "ED240", "ED240", "ED201"]
