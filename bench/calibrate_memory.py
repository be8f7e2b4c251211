"""Measure the GPU memory of envdoctor's own QLoRA training step, component by component.

Everything that trains is the pipeline's code: ``modeling.load_quantized`` (NF4 + double
quantisation), ``modeling.attach_lora``, ``training.make_optimizer``, ``ChunkedCausalLMLoss``
and ``training.optimizer_step`` on ``batching.epoch_batches`` packed micro-batches.  Nothing
here re-implements them.

For each model shape (a random-init checkpoint written from a public config.json's sizes)
one process loads the base once and then, row by row: attaches fresh LoRA, runs one
instrumented step (allocated memory after LoRA, after the forward, at the forward and
backward peaks, after the optimizer step) and then ``STEPS`` whole optimizer steps through
``training.optimizer_step``, recording torch's max allocated / reserved and NVML's used
memory (sampled every few ms and read at the row's end, before anything is freed).  The
memory outside torch's allocator (CUDA context, library handles) is NVML's used minus
torch's reserved at the same moment.  The first row of each process follows the load
directly, as a user's run does.  The measuring process gets the environment `envdoctor run`
gives its training child (``launch.child_environment``: expandable allocator segments).
Rows marked ``t4`` run with torch capped so that reserved + outside = a T4's 15360 MiB.

Usage (device):   python calibrate_memory.py --out $OUT/memory.json --budget-s 480
Usage (CPU smoke): python calibrate_memory.py --dry-run
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from envdoctor.memory.shapes import PUBLIC_CONFIGS

MIB = 2**20
STEPS = 2
HERE = Path(__file__).resolve().parent

SHAPES = PUBLIC_CONFIGS  # the shape fields of public config.json files (envdoctor.memory.shapes)
# (ckpt, max_length, batch, r, targets, optimizer, attn, precision, split); split: fit | holdout | t4
# ("t4" rows run with torch's allocator capped so that the process's NVML total is a T4's 15360 MiB).
ROWS: dict[str, list[tuple[Any, ...]]] = {
    "qwen2.5-0.5b": [(True, 512, 4, 8, "qv", "adamw_torch", "sdpa", "bf16", "fit"),
                     (False, 1024, 4, 16, "all", "adamw_torch", "sdpa", "bf16", "fit"),
                     (True, 8192, 1, 64, "all", "adamw_8bit", "sdpa", "bf16", "fit"),
                     (True, 2048, 8, 32, "qv", "adamw_torch", "sdpa", "fp16", "holdout")],
    "llama-3.2-1b": [(True, 512, 4, 8, "qv", "adamw_torch", "sdpa", "bf16", "fit"),
                     (False, 2048, 4, 64, "all", "adamw_torch", "sdpa", "bf16", "fit"),
                     (False, 256, 8, 8, "qv", "adamw_8bit", "sdpa", "bf16", "holdout"),
                     (True, 4096, 2, 16, "qv", "adamw_torch", "sdpa", "fp16", "fit")],
    "mistral-7b": [(True, 512, 4, 8, "qv", "adamw_torch", "sdpa", "bf16", "holdout"),
                   (False, 512, 4, 8, "qv", "adamw_torch", "sdpa", "bf16", "holdout"),
                   (True, 2048, 4, 64, "all", "adamw_8bit", "sdpa", "bf16", "holdout"),
                   (False, 2048, 1, 16, "qv", "adamw_torch", "eager", "fp16", "holdout"),
                   *[(True, n, 8, 8, "qv", "adamw_torch", "sdpa", "fp16", "t4") for n in (1024, 2048, 3072, 4096, 6144)]],
    "llama-3.1-8b": [(True, 512, 4, 8, "qv", "adamw_torch", "sdpa", "bf16", "holdout"),
                     (False, 1024, 2, 8, "qv", "adamw_torch", "sdpa", "bf16", "holdout"),
                     (True, 8192, 1, 64, "all", "paged_adamw_8bit", "sdpa", "bf16", "holdout"),
                     (True, 1024, 4, 16, "qv", "adamw_torch", "sdpa", "fp16", "holdout"),
                     *[(False, 512, b, 8, "qv", "adamw_torch", "sdpa", "fp16", "t4") for b in (1, 2, 3, 4, 6)]],
    "qwen3-8b": [(True, 512, 4, 8, "qv", "adamw_torch", "sdpa", "bf16", "holdout"),
                 (False, 512, 2, 64, "all", "adamw_torch", "sdpa", "bf16", "holdout"),
                 (True, 2048, 4, 8, "qv", "adamw_torch", "sdpa", "fp16", "holdout")],
    "qwen2.5-14b": [(True, 512, 4, 8, "qv", "adamw_torch", "sdpa", "fp16", "holdout"),
                    *[(True, n, 4, 8, "qv", "adamw_torch", "sdpa", "fp16", "t4") for n in (1024, 1536, 2048, 3072)]],
}
ORDER = ["qwen2.5-0.5b", "llama-3.2-1b", "mistral-7b", "llama-3.1-8b", "qwen3-8b"]
# T4: 15360 MiB as NVML reports it (envdoctor.memory.gpus); torch may reserve that less what lies outside it.
T4_NVML_MIB = 15360
TARGETS = {"qv": ("q_proj", "v_proj"), "all": "all-linear"}
DRY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
       "num_key_value_heads": 2, "vocab_size": 512, "head_dim": 16}


def versions() -> dict[str, Any]:
    """Versions of what the figures depend on, and the GPU."""
    out: dict[str, Any] = {"python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "accelerate", "bitsandbytes", "safetensors", "triton"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    import torch

    out["cuda"] = torch.version.cuda
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name()
        import pynvml

        pynvml.nvmlInit()
        out["driver"] = pynvml.nvmlSystemGetDriverVersion()
    return out


def make_checkpoint(name: str, folder: Path, dry: bool) -> None:
    """Random-init bf16 checkpoint of SHAPES[name] with the pipeline's byte tokenizer (run as a subprocess)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from envdoctor.pipeline import modeling

    raw = {**SHAPES[name], **(DRY if dry else {})}
    config = AutoConfig.for_model(raw.pop("model_type"), **raw)
    torch.manual_seed(0)
    device = "cpu" if dry else "cuda"
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    modeling.byte_tokenizer().save_pretrained(folder)


class Sampler:
    """NVML used memory of GPU 0, sampled every 5 ms on a thread; ``peak`` since the last ``reset``."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.peak = 0.0
        self._stop = False
        if cuda:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            threading.Thread(target=self._loop, daemon=True).start()

    def used(self) -> float:
        return self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used / MIB if self.cuda else 0.0

    def _loop(self) -> None:
        while not self._stop:
            self.peak = max(self.peak, self.used())
            time.sleep(0.005)

    def reset(self) -> None:
        self.peak = self.used() if self.cuda else 0.0


def _alloc(cuda: bool) -> float:
    import torch

    if not cuda:
        return 0.0
    torch.cuda.synchronize()
    return torch.cuda.memory_allocated() / MIB


def _max_alloc(cuda: bool) -> float:
    import torch

    return torch.cuda.max_memory_allocated() / MIB if cuda else 0.0


def _reset_peak(cuda: bool) -> None:
    import torch

    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def packed_batches(vocab: int, batch: int, length: int, count: int) -> list[Any]:
    """``count`` packed micro-batches of ``batch`` x ``length`` tokens, each row several samples (as real data).

    Samples are a quarter of ``length`` (at least 64 tokens), every token a target, so
    ``batching.epoch_batches`` fills each row exactly and the block-diagonal mask is built.
    """
    import random

    from envdoctor.pipeline import batching

    rng = random.Random(0)
    size = max(64, length // 4)
    per_row = batch * length // size
    examples = []
    for _ in range(per_row * count):
        ids = tuple(rng.randrange(3, vocab) for _ in range(size))
        examples.append(batching.Example(ids, ids))
    return batching.epoch_batches(examples, batch, length, True, 0, 0, 0)[:count]


def measure_row(model_path: Path, base: Any, row: tuple[Any, ...], vocab: int, cuda: bool, sampler: Sampler,
                accelerator: Any, precision: Any) -> tuple[Any, dict[str, Any]]:
    """Attach LoRA for ``row`` on the loaded ``base``, train, record; returns (base without LoRA, record)."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from envdoctor.pipeline import modeling, training
    from envdoctor.pipeline.loss import ChunkedCausalLMLoss

    ckpt, length, batch, r, targets, optim, attn, _, split = row
    rec: dict[str, Any] = {"gradient_checkpointing": ckpt, "max_length": length, "batch_size": batch, "lora_r": r,
                           "targets": targets, "optimizer": optim, "attn": attn, "precision": precision.name,
                           "split": split, "allocator": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "default")}
    if split == "t4" and cuda:  # cap torch so that its reserved memory + what lies outside it = a T4's NVML total
        from envdoctor.memory.estimate import OUTSIDE_TORCH_MIB

        rec["cap_mib"] = T4_NVML_MIB - OUTSIDE_TORCH_MIB
        torch.cuda.set_per_process_memory_fraction(rec["cap_mib"] / (torch.cuda.get_device_properties(0).total_memory / MIB))
    if hasattr(base, "set_attn_implementation"):
        base.set_attn_implementation(attn)
    rec["base_allocated_mib"] = _alloc(cuda)
    model = modeling.attach_lora(base, r, 2 * r, 0.05, TARGETS[targets], ckpt)
    params = [p for p in model.parameters() if p.requires_grad]
    rec["trainable_params"] = sum(p.numel() for p in params)
    rec["after_lora_mib"] = _alloc(cuda)
    optimizer = training.make_optimizer(optim, params, 2e-4)
    batches = packed_batches(vocab, batch, length, STEPS + 1)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, len(batches))
    scaler = torch.amp.GradScaler("cuda" if cuda else "cpu", enabled=precision.name == "fp16" and cuda)
    wrapped = ChunkedCausalLMLoss(model)
    rec["loss_chunk_tokens"] = wrapped.chunk_tokens
    rec["block_mask"] = any(p == 0 for p in batches[0].position_ids[0][1:])  # several samples in the row
    device = accelerator.device
    try:
        sampler.reset()
        _reset_peak(cuda)
        first = batches[0]
        inputs = first.tensors(device)
        before = _alloc(cuda)
        summed, _ = wrapped(**inputs)
        rec["forward_kept_mib"] = _alloc(cuda) - before
        rec["forward_peak_mib"] = _max_alloc(cuda) - before
        _reset_peak(cuda)
        scaler.scale(summed / first.target_tokens).backward()
        rec["backward_peak_mib"] = _max_alloc(cuda) - before
        rec["after_backward_mib"] = _alloc(cuda) - before
        del summed, inputs
        _reset_peak(cuda)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        rec["optimizer_step_peak_mib"] = _max_alloc(cuda) - before
        rec["optimizer_state_mib"] = _alloc(cuda) - before
        _reset_peak(cuda)
        started = time.perf_counter()
        for b in batches[1:]:
            training.optimizer_step(wrapped, [b], optimizer, scheduler, scaler, params, accelerator)
        if cuda:
            torch.cuda.synchronize()
        rec["s_per_step"] = round((time.perf_counter() - started) / STEPS, 3)
        rec["step_max_allocated_mib"] = _max_alloc(cuda)
        if cuda:
            rec["max_reserved_mib"] = torch.cuda.max_memory_reserved() / MIB
            rec["reserved_end_mib"] = torch.cuda.memory_reserved() / MIB
            rec["nvml_end_mib"] = sampler.used()
            rec["nvml_peak_mib"] = sampler.peak
            rec["outside_torch_mib"] = rec["nvml_end_mib"] - rec["reserved_end_mib"]
            rec["nvml_peak_est_mib"] = rec["max_reserved_mib"] + rec["outside_torch_mib"]
    except torch.OutOfMemoryError as exc:
        rec["oom"] = str(exc).splitlines()[0][:200]
        if cuda:
            rec["max_reserved_mib"] = torch.cuda.max_memory_reserved() / MIB
    finally:
        if cuda:
            torch.cuda.set_per_process_memory_fraction(1.0)
        optimizer = scheduler = wrapped = None
        for p in params:
            p.grad = None
        params = []
        base = model.unload()
        if hasattr(base, "gradient_checkpointing_disable"):
            base.gradient_checkpointing_disable()
        del model
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    return base, rec


def run_model(name: str, folder: Path, rows: list[tuple[Any, ...]], cuda: bool) -> list[dict[str, Any]]:
    """Load ``folder`` once per precision and measure ``rows`` in this process (printed as JSON lines)."""
    import torch
    from accelerate import Accelerator

    from envdoctor.pipeline import modeling

    sampler = Sampler(cuda)
    accelerator = Accelerator(cpu=not cuda)
    device = "cuda" if cuda else "cpu"
    vocab = json.loads((folder / "config.json").read_text())["vocab_size"]
    out = []
    for prec in ("bf16", "fp16"):
        mine = [r for r in rows if r[7] == prec]
        if not mine:
            continue
        precision = modeling.Precision(prec if cuda else "fp32", "calibration")
        sampler.reset()
        t0 = time.perf_counter()
        base = modeling.load_quantized(str(folder), precision, device, "sdpa")
        load = {"load_s": round(time.perf_counter() - t0, 1), "weights_allocated_mib": _alloc(cuda),
                "load_peak_nvml_mib": sampler.peak}
        if cuda:
            load["reserved_after_load_mib"] = torch.cuda.memory_reserved() / MIB
            load["max_allocated_during_load_mib"] = torch.cuda.max_memory_allocated() / MIB
        for row in mine:
            base, rec = measure_row(folder, base, row, vocab, cuda, sampler, accelerator, precision)
            rec.update(model=name, first_in_process=not out or out[-1]["precision"] != prec, **load)
            print("ROW " + json.dumps(rec), flush=True)
            out.append(rec)
        del base
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--models", nargs="*", default=ORDER)
    parser.add_argument("--budget-s", type=float, default=480.0)
    parser.add_argument("--scratch", default="/dev/shm" if Path("/dev/shm").is_dir() else None)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--make-checkpoint", nargs=2, metavar=("NAME", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=3, metavar=("NAME", "FOLDER", "ROWS_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_checkpoint:
        make_checkpoint(args.make_checkpoint[0], Path(args.make_checkpoint[1]), args.dry_run)
        return
    import torch

    from envdoctor.pipeline import launch

    cuda = torch.cuda.is_available() and not args.dry_run
    if args.measure:
        rows = [tuple(r) for r in json.loads(args.measure[2])]
        run_model(args.measure[0], Path(args.measure[1]), rows, cuda)
        return
    began = time.monotonic()
    results: dict[str, Any] = {"versions": versions(), "steps": STEPS, "shapes": SHAPES, "rows": [], "skipped": []}
    print(json.dumps(results["versions"]), flush=True)
    for name in args.models:
        if time.monotonic() - began > args.budget_s:
            results["skipped"].append(name)
            continue
        with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
            folder = Path(tmp)
            t0 = time.perf_counter()
            env = {**launch.child_environment(tty=False), "PYTHONUNBUFFERED": "1"}  # as `envdoctor run`
            flags = ["--dry-run"] if args.dry_run else []
            subprocess.run([sys.executable, __file__, "--make-checkpoint", name, str(folder), *flags], check=True, env=env)
            print(f"# {name}: checkpoint in {time.perf_counter() - t0:.0f}s", flush=True)
            proc = subprocess.run([sys.executable, __file__, "--measure", name, str(folder), json.dumps(ROWS[name]),
                                   *flags], capture_output=True, text=True, env=env, timeout=400, check=False)
            rows = [json.loads(line[4:]) for line in proc.stdout.splitlines() if line.startswith("ROW ")]
            if proc.returncode != 0:
                print(f"# {name}: exit {proc.returncode}: {proc.stderr[-1500:]}", flush=True)
            for rec in rows:
                print(json.dumps({k: (round(v, 1) if isinstance(v, float) else v) for k, v in rec.items()}), flush=True)
            results["rows"] += rows
            if args.out:
                args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"# {name}: done at {time.monotonic() - began:.0f}s", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
