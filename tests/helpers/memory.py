"""Shared inputs for the memory tests: the calibration configs, a project folder, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bench" / "configs"
RESULTS = ROOT / "bench" / "results" / "memory_calibration.json"


def config(name: str) -> dict[str, Any]:
    """A model config.json used in the GPU calibration (qwen2-0.5b, qwen2-1.5b, deepseek-llm-7b)."""
    return dict(json.loads((CONFIGS / f"{name}.json").read_text(encoding="utf-8")))


def project(folder: Path, train: str, model: str = "deepseek-llm-7b") -> Path:
    """A project with envdoctor.yaml whose model is a local folder holding ``model``'s config.json."""
    (folder / "model").mkdir(parents=True, exist_ok=True)
    (folder / "model" / "config.json").write_text(json.dumps(config(model)), encoding="utf-8")
    (folder / "envdoctor.yaml").write_text(
        "model:\n  name_or_path: ./model\nlora:\n  r: 8\ntrain:\n" + train, encoding="utf-8")
    return folder


def envdoctor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess."""
    return subprocess.run([sys.executable, "-m", "envdoctor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)
