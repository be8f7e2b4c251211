"""Where one QLoRA step's GPU time goes: kernel time per category, from torch.profiler.

Runs envdoctor.pipeline's step (the same setup as ``pipeline_throughput.py``) eagerly under the
profiler for a few steps after a warm-up and sums the CUDA kernel time by category (matrix
products, attention, 4-bit dequantisation, elementwise/normalisation, loss, optimizer, copies).
The kernels are those a CUDA-graph replay runs, so the sum is the floor of a replayed step; the
gap to the measured wall time of an eager step is host overhead.  Usage::

    python bench/step_profile.py --model 7b [--checkpointing auto] [--kernels liger] --out profile.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_throughput as bench  # noqa: E402

CATEGORIES = (  # first match wins; patterns over kernel names
    ("attention", r"fmha|flash|attention|efficient_attention|cutlass.*Attention"),
    ("dequant_4bit", r"kDequantize|dequantize|kgemm_4bit"),
    ("matmul", r"gemm|cutlass|sm90_xmma|nvjet|cublas|wgmma|splitK"),
    ("loss", r"log_softmax|nll_loss|cross_entropy|softmax"),
    ("optimizer", r"adam|multi_tensor|foreach|fused_adam"),
    ("copy_cast", r"copy|cast|convert|Memcpy|Memset|fill"),
    ("elementwise_norm", r"elementwise|vectorized|reduce|rms|norm|rope|swiglu|silu|mul|add|triton|index|cat"),
)


def category(name: str) -> str:
    """The category a kernel name falls in (``other`` when none matches)."""
    for label, pattern in CATEGORIES:
        if re.search(pattern, name, re.IGNORECASE):
            return label
    return "other"


def main() -> None:
    """Profile a few eager steps; print ms per step per category and the top kernels; write JSON."""
    from torch.profiler import ProfilerActivity, profile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="7b", choices=sorted(bench.MODELS))
    parser.add_argument("--checkpointing", default="true", choices=("true", "false", "auto"))
    parser.add_argument("--kernels", default="torch", choices=("torch", "liger"))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--models-dir", type=Path, default=Path("/tmp/envdoctor-bench-models"))
    parser.add_argument("--out", type=Path, default=Path("step_profile.json"))
    args = parser.parse_args()
    checkpointing: bool | str = {"true": True, "false": False}.get(args.checkpointing, args.checkpointing)
    vocab = bench.MODELS[args.model]["vocab_size"]
    data = bench.samples(bench.BATCH * (args.steps + 4) * 4, vocab)
    path = bench.materialise(args.model, args.models_dir / args.model, "cuda")
    step, batches, _ = bench.pipeline_step(path, data, "cuda", 3 + args.steps, checkpointing, args.kernels, False)
    for batch in batches[:3]:
        step([batch])
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        for batch in batches[3:]:
            step([batch])
        torch.cuda.synchronize()
        wall = (time.perf_counter() - start) / args.steps
    per_kernel: dict[str, float] = {}
    for event in prof.key_averages():
        device_us = getattr(event, "device_time_total", None) or getattr(event, "cuda_time_total", 0)
        if device_us and event.device_type == torch.autograd.DeviceType.CUDA:
            per_kernel[event.key] = per_kernel.get(event.key, 0.0) + device_us / 1000 / args.steps
    totals: dict[str, float] = {}
    for name, ms in per_kernel.items():
        totals[category(name)] = totals.get(category(name), 0.0) + ms
    gpu = sum(totals.values())
    print(f"{args.model} checkpointing={args.checkpointing} kernels={args.kernels}: eager step {wall * 1000:.1f} ms, "
          f"GPU kernels {gpu:.1f} ms ({gpu / wall / 10:.0f}% busy)")
    for label, ms in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {label:<18} {ms:8.1f} ms  {ms / gpu:6.1%}")
    top = sorted(per_kernel.items(), key=lambda kv: -kv[1])[:25]
    for name, ms in top:
        print(f"    {ms:7.2f} ms  {category(name):<16} {name[:110]}")
    report: dict[str, Any] = {"versions": bench.versions(), "model": args.model, "checkpointing": args.checkpointing,
                              "kernels": args.kernels, "eager_step_ms": wall * 1000, "gpu_kernel_ms": gpu,
                              "categories_ms": totals, "top_kernels_ms": dict(top)}
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
