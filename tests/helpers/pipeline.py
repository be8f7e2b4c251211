"""Shared fixtures for the pipeline tests: a small config on the sample DB, and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from envdoctor.pipeline import sample_db

CONFIG = """\
model:
  name_or_path: builtin:tiny-llama
data:
  db: {db}
  output: out/instructions.jsonl
  samples: 40
  eval_fraction: 0.1
  seed: 7
lora:
  r: 4
  alpha: 8
  dropout: 0.05
train:
  epochs: 1
  batch_size: 2
  max_length: 384
  learning_rate: 0.002
  seed: 7
  output_dir: out/adapter
  max_steps: {max_steps}
"""


def make_project(folder: Path, max_steps: int = 6, db: str = "finance_analysis.db") -> Path:
    """A project folder with the sample DB and a small envdoctor.yaml; returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    if db == "finance_analysis.db" and not (folder / db).exists():
        sample_db.build(folder / db)
    config = folder / "envdoctor.yaml"
    config.write_text(CONFIG.format(db=db, max_steps=max_steps), encoding="utf-8")
    return config


def envdoctor_argv(*args: str) -> list[str]:
    """argv that runs this checkout's CLI with the test interpreter."""
    return [sys.executable, "-m", "envdoctor", *args]


def run_cli(cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run `envdoctor ARGS` in ``cwd`` and capture its output."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(envdoctor_argv(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)


def read_json(path: Path) -> Any:
    """Parse a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def tree_digest(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes), to show a folder was left as it was."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
