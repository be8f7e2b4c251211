"""Write a project laid out like the seeds' (the README's walk-through) into DEST.

Usage: ``python examples/make_seeds_project.py DEST``.  It holds the seeds' mistakes on purpose: a
builder script naming ``ei.ret_post_15``, a LLaMA-Factory YAML with ``flash_attn: False``, a launch
script passing ``--flash_attn False``, a UTF-16 ``requirements.txt``, and the sample database under
``datasets/``.  The files are written elsewhere (not kept in this repository as files) so that
`envdoctor check` of this repository does not report the example's deliberate errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

from envdoctor.pipeline.sample_db import build

FILES = {
    'configs/qwen_qlora.yaml': '''\
### the seeds' LLaMA-Factory QLoRA config
model_name_or_path: Qwen/Qwen2.5-7B-Instruct
stage: sft
finetuning_type: lora
quantization_bit: 4
template: qwen
flash_attn: False
''',
    'scripts/qlora/build_instruction_dataset.py': '''\
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
''',
    'train.sh': '''\
#!/bin/bash
# The seeds' launch script: `--flash_attn False` stops LLaMA-Factory's argument parser.
llamafactory-cli train \\
    --model_name_or_path Qwen/Qwen2.5-7B-Instruct \\
    --stage sft --finetuning_type lora --quantization_bit 4 \\
    --flash_attn False
''',
}
REQUIREMENTS = "peft==0.17.1\r\ntrl==0.9.6\r\n"  # as PowerShell writes `pip freeze >`: UTF-16 LE, CRLF


def make(dest: Path) -> Path:
    """Write the project into ``dest`` (which must not exist)."""
    dest.mkdir(parents=True)
    for rel, text in FILES.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8")
    (dest / "requirements.txt").write_bytes(REQUIREMENTS.encode("utf-16"))
    build(dest / "datasets" / "finance_analysis.db")
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/make_seeds_project.py DEST")
    print(make(Path(sys.argv[1])))
