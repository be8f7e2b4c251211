"""bench/pipeline_throughput.py runs end to end on CPU with the tiny model (its GPU figures come from the device)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "pipeline_throughput.py"


@pytest.mark.slow
def test_bench_measures_every_contender_on_the_same_work(tmp_path: Path) -> None:
    contenders = ["pipeline-lean", "pipeline-auto", "seed"] + (["trl"] if find_spec("trl") and find_spec("datasets") else [])
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--models", "tiny", "--device", "cpu", "--warmup", "1",
                           "--steps", "1", "--rounds", "1", "--contenders", *contenders,
                           "--models-dir", str(tmp_path / "models"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = {r["contender"]: r for r in json.loads(out.read_text())["results"]}
    assert set(results) == set(contenders)
    assert all("error" not in r for r in results.values()), results
    # Same capacity per step (4 × 512): packing fills it, padding to max_length mostly wastes it.
    assert results["pipeline-lean"]["useful_tokens_per_step"] > 2 * results["seed"]["useful_tokens_per_step"]
    assert results["seed"]["pad_fraction"] > 0.5
    assert results["pipeline-lean"]["checkpointed_layers"] == 2  # every layer of the tiny model
    assert results["pipeline-auto"]["choice"]["reason"].startswith("auto: checkpointing on (CPU")
    assert "vs lean" in proc.stdout
