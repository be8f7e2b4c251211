"""ED700/ED701 as `envdoctor check` runs them, on snapshots with known GPUs and RAM (no NVML needed)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.memory import project

from envdoctor.engine import core as engine
from envdoctor.engine.check import CheckRequest, build_context
from envdoctor.env.snapshot import GPU, Hardware, Snapshot
from envdoctor.findings import Finding, Severity
from envdoctor.knowledge import base as knowledge

KB = knowledge.load()
# A dense 14B decoder (Qwen2.5-14B's shape), as the seed's ChatTS-14B: 29.5 GB in bf16.
QWEN_14B = {"model_type": "qwen2", "hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 48,
            "num_attention_heads": 40, "num_key_value_heads": 8, "vocab_size": 152064, "tie_word_embeddings": False}


def findings(root: Path, hardware: Hardware, gpu_target: str | None = None) -> list[Finding]:
    snap = Snapshot(source="test", python_version="3.11.7", hardware=hardware)
    ctx = build_context(CheckRequest(project_path=root, gpu_target=gpu_target, select=("ED7",)), kb=KB, snap=snap)
    return engine.run(ctx, engine.select_rules(KB, ("ED7",)))


def zero3_project(tmp_path: Path, processes: int) -> Path:
    root = project(tmp_path, "  batch_size: 1\n")
    (root / "model" / "config.json").write_text(json.dumps(QWEN_14B), encoding="utf-8")
    with (root / "envdoctor.yaml").open("a", encoding="utf-8") as handle:
        handle.write(f"launch:\n  processes: {processes}\n  strategy: deepspeed-zero3\n")
    return root


def test_zero3_ranks_each_loading_14b_exceed_46_gb_and_single_process_is_proposed(tmp_path: Path) -> None:
    root = zero3_project(tmp_path, processes=2)
    found = [f for f in findings(root, Hardware(ram_available_mib=46 * 1024)) if f.code == "ED701"]
    assert len(found) == 1 and found[0].severity is Severity.ERROR
    assert "deepspeed-zero3" in found[0].message and "kill" in found[0].message
    fix = found[0].fixes[0]
    assert "single-process" in fix.title
    assert {e.new.strip() for e in fix.edits} == {"processes: 1", "strategy: none"}


def test_single_process_fits_46_gb_and_host_ram_is_skipped_when_planning_for_another_gpu(tmp_path: Path) -> None:
    single = zero3_project(tmp_path / "one", processes=1)
    assert not [f for f in findings(single, Hardware(ram_available_mib=46 * 1024)) if f.code == "ED701"]
    two = zero3_project(tmp_path / "two", processes=2)
    assert not [f for f in findings(two, Hardware(ram_available_mib=46 * 1024), gpu_target="T4")
                if f.code == "ED701"]


def test_live_gpu_free_memory_is_the_budget(tmp_path: Path) -> None:
    root = project(tmp_path, "  batch_size: 4\n  max_length: 512\n")
    roomy = Hardware(nvml="ok", gpus=(GPU(0, "NVIDIA A100-SXM4-40GB", "8.0", 40960, 40000),))
    assert not [f for f in findings(root, roomy) if f.code == "ED700"]
    busy = Hardware(nvml="ok", gpus=(GPU(0, "NVIDIA A100-SXM4-40GB", "8.0", 40960, 6000),))
    found = [f for f in findings(root, busy) if f.code == "ED700"]
    assert found and found[0].severity is Severity.ERROR and "free now" in found[0].message


def test_no_gpu_and_no_target_says_nothing(tmp_path: Path) -> None:
    root = project(tmp_path, "  batch_size: 64\n  max_length: 2048\n")
    assert not [f for f in findings(root, Hardware()) if f.code == "ED700"]
