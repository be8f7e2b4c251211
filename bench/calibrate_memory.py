"""Measure the peak GPU memory of QLoRA training steps, to calibrate `envdoctor estimate`.

Runs on a CUDA machine (the device script of issue 7).  For each model shape in
bench/configs/ it writes a random-init bf16 checkpoint (in a subprocess), loads it
once in 4-bit NF4 with double quantization (recording the host RAM peak of the
load), then runs a fractional grid of training rows on it, re-using the loaded
model: for each row, two optimizer steps after ``reset_peak_memory_stats``,
recording torch's max allocated/reserved and NVML's used memory.  Rows that run
out of memory are recorded as such.  Two training styles:

* ``pipeline`` - no fp32 upcast (embeddings, lm_head and norms stay bf16), LoRA
  weights in bf16, non-reentrant gradient checkpointing, and a loss computed in
  checkpointed chunks of ``LOSS_CHUNK_TOKENS`` tokens over the lm_head so the
  full tokens x vocab logits are never materialised.
* ``seed`` - ``peft.prepare_model_for_kbit_training`` (every non-4-bit parameter
  upcast to fp32, its default checkpointing), LoRA weights as peft makes them
  (fp32), bf16 autocast as the HF Trainer does, the model's own loss (full fp32
  logits), batches padded to max_length with an attention mask.

``--holdout`` measures HOLDOUT_GRID rows instead (configurations the estimator was not tuned
on). ``--fresh`` also measures FRESH_GRID rows, each in its own process as a user's
run is (no row before it, no empty_cache), including configurations the
estimator was not tuned on.  bench/memory_report.py prints the estimator's and
weights-only arithmetic's error per row from the JSON this writes.

Usage (device):  python3 bench/calibrate_memory.py --out $OUT/memory_calibration.json
                 python3 bench/calibrate_memory.py --fresh --no-shared --out $OUT/memory_fresh.json
Usage (CPU smoke test of the code paths, tiny shapes, no measurements):
                 python bench/calibrate_memory.py --dry-run
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
LOSS_CHUNK_TOKENS = 1024
STEPS_PER_ROW = 2
PAD_FRACTION = 0.4  # seed style: share of each padded row that is padding

# (style, gradient checkpointing, max_length, batch, lora r, targets, optimizer, attention)
Row = tuple[str, bool, int, int, int, str, str, str]
GRID: dict[str, list[Row]] = {
    "qwen2-0.5b": [
        ("pipeline", True, 512, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("pipeline", True, 2048, 8, 64, "all", "adamw_torch", "sdpa"),
        ("pipeline", False, 256, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("pipeline", False, 1024, 2, 64, "all", "adamw_8bit", "sdpa"),
        ("pipeline", True, 1024, 1, 64, "all", "paged_adamw_8bit", "sdpa"),
        ("pipeline", False, 512, 2, 8, "qv", "adamw_torch", "eager"),
        ("seed", True, 512, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("seed", True, 2048, 4, 64, "all", "adamw_torch", "sdpa"),
        ("seed", False, 512, 2, 8, "qv", "adamw_torch", "sdpa"),
        ("seed", False, 256, 8, 64, "all", "adamw_8bit", "sdpa"),
        ("seed", True, 1024, 8, 8, "qv", "adamw_torch", "sdpa"),
    ],
    "qwen2-1.5b": [
        ("pipeline", True, 512, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("pipeline", True, 1024, 8, 64, "all", "adamw_torch", "sdpa"),
        ("pipeline", False, 512, 2, 8, "qv", "adamw_torch", "sdpa"),
        ("pipeline", False, 256, 8, 64, "all", "adamw_8bit", "sdpa"),
        ("pipeline", True, 2048, 2, 8, "all", "adamw_torch", "sdpa"),
        ("pipeline", True, 1024, 2, 8, "qv", "adamw_torch", "eager"),
        ("seed", True, 512, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("seed", True, 2048, 2, 64, "all", "paged_adamw_8bit", "sdpa"),
        ("seed", False, 1024, 1, 64, "all", "adamw_torch", "sdpa"),
        ("seed", False, 256, 4, 8, "qv", "adamw_8bit", "sdpa"),
        ("seed", True, 256, 8, 64, "all", "adamw_torch", "sdpa"),
    ],
    "deepseek-llm-7b": [
        ("pipeline", True, 512, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("pipeline", True, 2048, 4, 64, "all", "adamw_torch", "sdpa"),
        ("pipeline", False, 256, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("pipeline", False, 512, 2, 64, "all", "adamw_8bit", "sdpa"),
        ("pipeline", True, 1024, 8, 8, "qv", "paged_adamw_8bit", "sdpa"),
        ("seed", True, 512, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("seed", True, 2048, 2, 64, "all", "adamw_torch", "sdpa"),
        ("seed", False, 512, 1, 8, "qv", "adamw_torch", "sdpa"),
        ("seed", False, 256, 4, 64, "all", "adamw_8bit", "sdpa"),
        ("seed", True, 1024, 8, 8, "qv", "adamw_torch", "sdpa"),
    ],
}
# Held out: configurations measured after the estimator's constants were fixed (``--holdout``),
# one process each, to report its error on settings it was never tuned on.
HOLDOUT_GRID: dict[str, list[Row]] = {
    "qwen2-0.5b": [
        ("pipeline", True, 768, 3, 32, "all", "adamw_torch", "sdpa"),
        ("seed", False, 384, 2, 16, "qv", "adamw_8bit", "sdpa"),
    ],
    "qwen2-1.5b": [
        ("pipeline", False, 768, 2, 32, "qv", "paged_adamw_8bit", "sdpa"),
        ("seed", True, 1536, 2, 16, "all", "adamw_torch", "sdpa"),
    ],
    "deepseek-llm-7b": [
        ("pipeline", True, 1536, 2, 32, "all", "adamw_8bit", "sdpa"),
        ("seed", True, 768, 3, 16, "all", "adamw_torch", "sdpa"),
    ],
}
# One process per row (what a user's run sees: no other row before it, no empty_cache), to check
# the shared-process GRID and to hold out configurations the estimator was not tuned on.
FRESH_GRID: dict[str, list[Row]] = {
    "qwen2-0.5b": [
        ("pipeline", True, 512, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("pipeline", False, 256, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("seed", True, 1024, 2, 32, "all", "paged_adamw_8bit", "sdpa"),
        ("pipeline", True, 2048, 2, 16, "all", "adamw_8bit", "sdpa"),
    ],
    "qwen2-1.5b": [
        ("pipeline", True, 512, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("pipeline", True, 2048, 1, 16, "all", "adamw_torch", "sdpa"),
        ("seed", True, 1024, 4, 8, "qv", "adamw_torch", "eager"),
        ("seed", False, 512, 2, 16, "all", "adamw_torch", "sdpa"),
    ],
    "deepseek-llm-7b": [
        ("pipeline", True, 512, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("seed", True, 512, 4, 8, "qv", "adamw_torch", "sdpa"),
        ("pipeline", True, 1024, 2, 16, "all", "adamw_8bit", "sdpa"),
        ("seed", False, 256, 2, 16, "qv", "adamw_torch", "sdpa"),
        ("pipeline", False, 512, 1, 32, "all", "adamw_torch", "eager"),
    ],
}
TARGETS = {"qv": ["q_proj", "v_proj"], "all": "all-linear"}
DRY_RUN_CONFIG = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
                  "max_position_embeddings": 512}
MIB = 2**20


def make_checkpoint(config_path: Path, folder: Path, device: str) -> None:
    """Write a random-init bf16 checkpoint of ``config_path`` to ``folder`` (run in a subprocess)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    raw = json.loads(config_path.read_text())
    config = AutoConfig.for_model(raw.pop("model_type"), **raw)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)


def load_config_json(path: Path, dry_run: bool) -> dict[str, Any]:
    raw = json.loads(path.read_text())
    if dry_run:
        raw.update(DRY_RUN_CONFIG)
    return raw


class Meter:
    """Peak GPU memory of a block (torch allocator stats and NVML), or nothing on CPU."""

    def __init__(self, cuda: bool, empty_cache: bool = True) -> None:
        self.cuda = cuda
        self.empty_cache = empty_cache
        self.handle = None
        if cuda:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(int(os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0] or 0))

    def nvml_used_mib(self) -> float | None:
        if self.handle is None:
            return None
        return self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used / MIB

    def reset(self) -> float:
        import torch

        gc.collect()
        if not self.cuda:
            return 0.0
        torch.cuda.synchronize()
        if self.empty_cache:
            torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated() / MIB

    def peaks(self) -> dict[str, float | None]:
        import torch

        if not self.cuda:
            return {"max_allocated_mib": None, "max_reserved_mib": None, "nvml_used_mib": None}
        torch.cuda.synchronize()
        return {"max_allocated_mib": torch.cuda.max_memory_allocated() / MIB,
                "max_reserved_mib": torch.cuda.max_memory_reserved() / MIB,
                "reserved_now_mib": torch.cuda.memory_reserved() / MIB,
                "nvml_used_mib": self.nvml_used_mib()}


def load_4bit(folder: Path, device: str, attn: str) -> Any:
    """The checkpoint in NF4 with double quantization, bf16 compute, as both styles load it."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
    return AutoModelForCausalLM.from_pretrained(folder, quantization_config=quant, dtype=torch.bfloat16,
                                                device_map={"": device}, attn_implementation=attn)


def make_optimizer(name: str, params: list[Any]) -> Any:
    """The optimizer the HF Trainer builds for ``optim=name``."""
    import torch

    if name == "adamw_torch":
        return torch.optim.AdamW(params, lr=2e-4)
    import bitsandbytes as bnb

    return {"adamw_8bit": bnb.optim.AdamW8bit, "paged_adamw_8bit": bnb.optim.PagedAdamW8bit,
            "paged_adamw_32bit": bnb.optim.PagedAdamW32bit}[name](params, lr=2e-4)


def chunked_lm_loss(hidden: Any, labels: Any, lm_head: Any, chunk: int) -> Any:
    """Mean next-token cross entropy over ``lm_head`` in checkpointed chunks (no full logits)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    def piece(h: Any, y: Any) -> Any:
        return F.cross_entropy(lm_head(h).float(), y, ignore_index=-100, reduction="sum")

    flat_h = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    flat_y = labels[:, 1:].reshape(-1)
    total = torch.zeros((), device=hidden.device, dtype=torch.float32)
    for start in range(0, flat_h.shape[0], chunk):
        total = total + checkpoint(piece, flat_h[start:start + chunk], flat_y[start:start + chunk],
                                   use_reentrant=False)
    return total / (flat_y != -100).sum().clamp(min=1)


def batch_for(style: str, batch: int, length: int, vocab: int, device: str) -> dict[str, Any]:
    import torch

    ids = torch.randint(0, vocab, (batch, length), device=device)
    if style == "pipeline":  # packed rows: every token is real
        return {"input_ids": ids, "labels": ids.clone()}
    mask = torch.ones_like(ids)
    real = max(1, int(length * (1 - PAD_FRACTION)))
    mask[:, real:] = 0  # right padding up to max_length, as the seeds' tokenizer call did
    labels = ids.masked_fill(mask == 0, -100)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def train_steps(peft_model: Any, style: str, batch: dict[str, Any], optimizer: Any, steps: int) -> float:
    """``steps`` optimizer steps; returns seconds per step."""
    import torch

    causal_lm = peft_model.get_base_model()
    start = time.perf_counter()
    for _ in range(steps):
        if style == "pipeline":
            hidden = causal_lm.model(input_ids=batch["input_ids"]).last_hidden_state
            loss = chunked_lm_loss(hidden, batch["labels"], causal_lm.lm_head, LOSS_CHUNK_TOKENS)
            del hidden
        else:
            with torch.autocast(device_type=batch["input_ids"].device.type, dtype=torch.bfloat16):
                loss = peft_model(**batch).loss
        loss.backward()
        del loss
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if batch["input_ids"].is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def set_attention(model: Any, attn: str) -> None:
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(attn)
    else:  # older transformers
        model.config._attn_implementation = attn


def measure_row(model: Any, row: Row, record: dict[str, Any], vocab: int, device: str, meter: Meter) -> Any:
    """Attach LoRA for ``row``, run the steps, fill ``record``; returns the model with LoRA removed."""
    import torch
    from peft import LoraConfig, get_peft_model

    style, ckpt, length, batch_size, r, targets, optim, attn = row
    set_attention(model, attn)
    lora = LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.05, target_modules=TARGETS[targets],
                      task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, lora)
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    if style == "pipeline":
        for p in trainable:
            p.data = p.data.to(torch.bfloat16)
    if ckpt:
        kwargs = {"use_reentrant": False} if style == "pipeline" else {}
        peft_model.get_base_model().gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    else:
        peft_model.get_base_model().gradient_checkpointing_disable()
    peft_model.train()
    record["trainable_params"] = sum(p.numel() for p in trainable)
    optimizer = batch = None
    try:
        record["before_step_allocated_mib"] = meter.reset()
        optimizer = make_optimizer(optim, trainable)
        batch = batch_for(style, batch_size, length, vocab, device)
        record["s_per_step"] = round(train_steps(peft_model, style, batch, optimizer, STEPS_PER_ROW), 3)
        record.update(meter.peaks())
    except torch.OutOfMemoryError as exc:
        record["oom"] = str(exc).splitlines()[0][:200]
        record.update(meter.peaks())
    finally:
        del optimizer, batch
        for p in trainable:
            p.grad = None
        del trainable
        model = peft_model.unload()
        del peft_model
        meter.reset()
    return model


def record_for(row: Row) -> dict[str, Any]:
    style, ckpt, length, batch_size, r, targets, optim, attn = row
    return {"style": style, "gradient_checkpointing": ckpt, "max_length": length, "batch_size": batch_size,
            "lora_r": r, "targets": targets, "optimizer": optim, "attn": attn}


def one_row(folder: Path, row: Row, device: str) -> None:
    """Fresh-process measurement of one row, as a user's run sees it: load, (upcast), train; print JSON."""
    from peft import prepare_model_for_kbit_training

    meter = Meter(device == "cuda", empty_cache=False)  # a user's process never empties the cache
    model = load_4bit(folder, device, row[7])
    record = record_for(row)
    if device == "cuda":
        import torch

        record["reserved_after_load_mib"] = torch.cuda.memory_reserved() / MIB
        record["allocated_after_load_mib"] = torch.cuda.memory_allocated() / MIB
    if row[0] == "seed":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    config = json.loads((folder / "config.json").read_text())
    measure_row(model, row, record, config["vocab_size"], device, meter)
    record["host_maxrss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print("ROW " + json.dumps(record), flush=True)


def run_shared(name: str, folder: Path, rows: list[Row], info: dict[str, Any], device: str, meter: Meter,
               deadline: float, args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Load once and run ``rows`` in this process (pipeline rows first, then the seed's upcast)."""
    from peft import prepare_model_for_kbit_training

    meter.reset()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    model = load_4bit(folder, device, "sdpa")
    load_s = time.perf_counter() - t0
    import psutil

    info.update({"load_s": round(load_s, 1), "host_maxrss_before_load_mib": round(rss_before),
                 "host_maxrss_after_load_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                 "host_rss_after_load_mib": round(psutil.Process().memory_info().rss / MIB),
                 "weights_allocated_mib": meter.reset()})
    vocab = info["config"]["vocab_size"]
    seed_prepared = False
    for row in sorted(rows, key=lambda r: r[0] == "seed"):
        style = row[0]
        record = record_for(row)
        if time.monotonic() > deadline:
            record["skipped"] = "time budget"
            info["rows"].append(record)
            continue
        if style == "seed" and not seed_prepared:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
            seed_prepared = True
            info["weights_after_upcast_mib"] = meter.reset()
        model = measure_row(model, row, record, vocab, device, meter)
        info["rows"].append(record)
        print(json.dumps({"model": name, **record}), flush=True)
        write(results, args.out)
    del model
    meter.reset()


def run_model(name: str, rows: list[Row], args: argparse.Namespace, meter: Meter, deadline: float,
              results: dict[str, Any]) -> None:
    """Write a random checkpoint of one shape; run its shared-process rows, then its fresh-process rows."""
    device = "cuda" if args.cuda else "cpu"
    config = load_config_json(CONFIG_DIR / f"{name}.json", args.dry_run)
    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        folder = Path(tmp)
        (folder / "config.json").write_text(json.dumps(config))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--make-checkpoint", str(folder / "config.json"), str(folder),
                        "--device", device], check=True)
        checkpoint_s = time.perf_counter() - t0
        ckpt_bytes = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
        info: dict[str, Any] = {"config": config, "checkpoint_bytes": ckpt_bytes,
                                "checkpoint_write_s": round(checkpoint_s, 1), "rows": []}
        results["models"][name] = info
        if rows:
            run_shared(name, folder, rows, info, device, meter, deadline, args, results)
        info["fresh_rows"] = []
        fresh = HOLDOUT_GRID if args.holdout else FRESH_GRID if args.fresh else {}
        for row in fresh.get(name, []):
            if time.monotonic() > deadline:
                info["fresh_rows"].append({**record_for(row), "skipped": "time budget"})
                continue
            proc = subprocess.run([sys.executable, __file__, "--one-row", str(folder), json.dumps(row),
                                   "--device", device], capture_output=True, text=True, check=False)
            lines = [line[4:] for line in proc.stdout.splitlines() if line.startswith("ROW ")]
            record = json.loads(lines[-1]) if lines else {**record_for(row), "error": proc.stderr[-300:]}
            info["fresh_rows"].append(record)
            print(json.dumps({"model": name, "fresh": True, **record}), flush=True)
            write(results, args.out)


def versions() -> dict[str, str | None]:
    import importlib.metadata as md

    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("torch", "transformers", "peft", "accelerate", "bitsandbytes", "safetensors"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    import torch

    out["cuda"] = torch.version.cuda
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
        import pynvml

        pynvml.nvmlInit()
        out["driver"] = pynvml.nvmlSystemGetDriverVersion()
    return out


def write(results: dict[str, Any], out: Path | None) -> None:
    if out is not None:
        out.write_text(json.dumps(results, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--models", nargs="*", default=list(GRID))
    parser.add_argument("--budget-s", type=float, default=480.0, help="skip rows after this many seconds")
    parser.add_argument("--scratch", default=None, help="folder for the random checkpoints")
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on CPU: test the code paths")
    parser.add_argument("--make-checkpoint", nargs=2, metavar=("CONFIG", "FOLDER"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--one-row", nargs=2, metavar=("FOLDER", "ROW_JSON"), help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help="also measure FRESH_GRID rows, one process each")
    parser.add_argument("--no-shared", action="store_true", help="skip the shared-process GRID rows")
    parser.add_argument("--holdout", action="store_true", help="measure HOLDOUT_GRID rows (one process each)")
    args = parser.parse_args()
    if args.make_checkpoint:
        make_checkpoint(Path(args.make_checkpoint[0]), Path(args.make_checkpoint[1]), args.device)
        return
    if args.one_row:
        one_row(Path(args.one_row[0]), tuple(json.loads(args.one_row[1])), args.device)
        return
    import torch

    args.cuda = torch.cuda.is_available() and not args.dry_run
    deadline = time.monotonic() + args.budget_s
    meter = Meter(args.cuda)
    context = None
    if args.cuda and not args.no_shared:
        torch.zeros(1, device="cuda")
        context = meter.nvml_used_mib() - torch.cuda.memory_reserved() / MIB
    results: dict[str, Any] = {"versions": versions(), "loss_chunk_tokens": LOSS_CHUNK_TOKENS,
                               "steps_per_row": STEPS_PER_ROW, "pad_fraction": PAD_FRACTION,
                               "cuda_context_mib": context, "models": {}}
    for name in args.models:
        run_model(name, [] if args.no_shared else GRID[name], args, meter, deadline, results)
    write(results, args.out)
    print(json.dumps(results["versions"]), flush=True)


if __name__ == "__main__":
    main()
