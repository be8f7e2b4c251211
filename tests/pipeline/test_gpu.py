"""On an NVIDIA GPU (the device machine; skipped in CI): what envdoctor sees, and a real QLoRA run there."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.pipeline import make_project, read_json, run_cli

from envdoctor.env import snapshot
from envdoctor.env.hardware import probe_hardware

pytestmark = pytest.mark.gpu


def test_snapshot_reads_gpus_driver_and_torch_cuda_without_importing_torch() -> None:
    hw = probe_hardware()
    assert hw.nvml == "ok" and hw.gpus and hw.driver_version
    assert all(g.capability and g.memory_total_mib > g.memory_free_mib > 0 for g in hw.gpus)
    snap = snapshot.live(hw)
    kind, cuda = snapshot.torch_build(snap)
    assert kind == "cuda" and cuda is not None
    assert int(cuda.split(".")[0]) <= int((hw.cuda_driver_version or "0").split(".")[0])


def test_run_trains_the_nf4_model_on_the_gpu(tmp_path: Path) -> None:
    make_project(tmp_path, max_steps=6)
    proc = run_cli(tmp_path, "run", "envdoctor.yaml", "--device", "cuda")
    assert proc.returncode == 0, proc.stderr
    info = read_json(tmp_path / "out/adapter/training_info.json")
    assert info["hardware"]["device"] == "cuda"
    major = int(probe_hardware().gpus[0].capability.split(".")[0])  # type: ignore[union-attr]
    assert info["hardware"]["precision"] == ("bf16" if major >= 8 else "fp16")
    assert info["metrics"]["steps"] == 6 and info["metrics"]["peak_memory_mib"]["gpu_reserved_mib"] > 0
    assert info["metrics"]["eval"]["adapter"]["loss"] < info["metrics"]["eval"]["base"]["loss"]
    drift = run_cli(tmp_path, "diff", "out/adapter/training_info.json", "live")
    assert drift.returncode == 0, drift.stdout


def test_liger_kernels_and_auto_checkpointing_train_the_same_losses(tmp_path: Path) -> None:
    """train.kernels: liger and gradient_checkpointing: auto change speed, not the numbers (bf16 rounding)."""
    pytest.importorskip("liger_kernel")
    losses = {}
    for name, extra in (("plain", ""), ("fast", "  kernels: liger\n  gradient_checkpointing: auto\n")):
        root = tmp_path / name
        config = make_project(root, max_steps=4)
        config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")  # train: is the last section
        proc = run_cli(root, "run", "envdoctor.yaml", "--device", "cuda")
        assert proc.returncode == 0, proc.stderr
        result = read_json(root / "out/adapter/train_result.json")
        losses[name] = result["losses"]
        if name == "fast":
            assert result["settings"]["kernels"] == "liger"
            assert result["settings"]["checkpointing"]["checkpointed_layers"] == 0  # a tiny model fits any GPU
    assert losses["fast"] == pytest.approx(losses["plain"], rel=2e-2)
