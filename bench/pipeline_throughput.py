"""Useful tokens/s, step time and peak memory of envdoctor's QLoRA loop beside TRL, in one run.

Contenders, on the same random-init model, the same synthetic instruction lengths (lognormal,
median ≈170 tokens, clipped to 512) and the same token capacity per optimizer step
(batch 4 × max_length 512), LoRA r 8 on q_proj/v_proj, NF4 + double quantisation, bf16:

* ``pipeline-lean``: envdoctor.pipeline's step with checkpointing on every layer (padding-free
  packing, chunked loss, no fp32 upcast, steps replayed from CUDA graphs where they can be);
  ``pipeline-lean-eager`` / ``pipeline-auto-eager``: the same without CUDA graphs;
* ``pipeline-auto``: the same with ``train.gradient_checkpointing: auto`` (the fastest setting
  whose estimated peak fits this GPU); ``pipeline-auto-liger`` adds ``train.kernels: liger``;
* ``trl`` / ``trl-nockpt``: TRL's SFTTrainer with ``packing=True`` (padding-free BFD packing),
  checkpointing on / off; ``trl-liger`` / ``trl-liger-nockpt``: the same with ``use_liger_kernel``;
* ``seed`` (not run unless asked): the seeds' loop (padding to 512, full logits).

Useful tokens are non-pad tokens.  Each contender warms up (every new shape costs seconds once)
before its timed steps.  Liger patches some transformers functions for the whole process, so
the Liger contenders run after the others.  Usage::

    python bench/pipeline_throughput.py --models 7b 1b --out results.json
    python bench/pipeline_throughput.py --models tiny --device cpu --warmup 1 --steps 2 \
        --contenders pipeline-lean pipeline-auto   # smoke test
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from envdoctor.pipeline import batching, graphs, modeling, training
from envdoctor.pipeline.loss import CHUNK_TOKENS
from envdoctor.project.config import LoraConfig, ModelConfig, TrainConfig, TrainingConfig
from envdoctor.project.builtin_models import builtin_config

BATCH, MAX_LENGTH, LR, PAD_ID = 4, 512, 2e-4, 0
MODELS: dict[str, dict[str, Any]] = {
    "7b": builtin_config("deepseek-7b-config"),
    "1b": {**builtin_config("deepseek-7b-config"), "hidden_size": 2048, "intermediate_size": 5632,
           "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000},
    "tiny": builtin_config("tiny-llama"),
}


def lengths(n: int, seed: int = 0) -> list[int]:
    """Instruction lengths like the seeds': lognormal, median 170 tokens, clipped to [16, 512]."""
    rng = random.Random(seed)
    return [max(16, min(MAX_LENGTH, round(rng.lognormvariate(math.log(170), 0.5)))) for _ in range(n)]


def samples(n: int, vocab: int, seed: int = 0) -> list[list[int]]:
    """Token id sequences (ids ≥ 3, so the pad id 0 never occurs in real tokens)."""
    rng = random.Random(seed + 1)
    return [[rng.randrange(3, vocab) for _ in range(k)] for k in lengths(n, seed)]


def materialise(name: str, folder: Path, device: str) -> Path:
    """Write the random-init model ``name`` once (bf16 on GPU, fp32 on CPU) with the byte tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    if (folder / "config.json").exists():
        return folder
    config = LlamaConfig(**{k: v for k, v in MODELS[name].items() if k not in ("architectures", "model_type")})
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.save_pretrained(folder, safe_serialization=True)
    modeling.byte_tokenizer().save_pretrained(folder)
    del model
    return folder


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _reset(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _memory(device: str) -> dict[str, float]:
    if device != "cuda":
        return {}
    return {"peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
            "peak_allocated_gib": torch.cuda.max_memory_allocated() / 2**30}


def _summary(step_times: list[float], step_tokens: list[int], warmup: int, device: str,
             slots: int) -> dict[str, Any]:
    timed_t, timed_n = step_times[warmup:], step_tokens[warmup:]
    return {"warmup_s": sum(step_times[:warmup]), "timed_steps": len(timed_t),
            "step_s": sum(timed_t) / len(timed_t), "useful_tokens_per_step": sum(timed_n) / len(timed_n),
            "useful_tok_s": sum(timed_n) / sum(timed_t),
            "pad_fraction": 1 - sum(timed_n) / (slots * len(timed_n)) if slots else None, **_memory(device)}


def pipeline_step(path: Path, data: list[list[int]], device: str, n_batches: int, checkpointing: bool | str,
                  kernels: str, cuda_graphs: bool | str) -> tuple[Any, list[batching.Batch], dict[str, Any]]:
    """envdoctor.pipeline's setup: load_quantized, apply_kernels, the auto choices, attach_lora, build_step.

    Returns the step function, the first ``n_batches`` packed micro-batches and what was chosen.
    """
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    config = TrainingConfig(model=ModelConfig(name_or_path=str(path)), lora=LoraConfig(r=8, alpha=16, dropout=0.05),
                            train=TrainConfig(batch_size=BATCH, max_length=MAX_LENGTH, gradient_checkpointing=checkpointing,
                                              kernels=kernels))
    accelerator = Accelerator(cpu=device == "cpu")
    precision = modeling.choose_precision("auto", device)
    base = modeling.load_quantized(str(path), precision, device, "sdpa")
    ran = modeling.apply_kernels(base, kernels, device)
    choice = modeling.memory_plan(base, config, precision, device)
    on, layers = (bool(checkpointing), None) if choice is None else (choice.layers > 0, choice.layers)
    model = modeling.attach_lora(base, 8, 16, 0.05, ("q_proj", "v_proj"), on, layers)
    examples = [batching.Example(tuple(ids), tuple(ids)) for ids in data]
    batches = batching.epoch_batches(examples, BATCH, MAX_LENGTH, True, PAD_ID, 0, 0)[:n_batches]
    params = [p for p in model.parameters() if p.requires_grad]
    graphed = graphs.choose(cuda_graphs, device, precision.name, True, 1, "adamw_torch", "sdpa")
    optimizer = graphs.capturable_adamw(params, LR) if graphed.on else training.make_optimizer("adamw_torch", params, LR)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, len(batches))
    scaler = torch.amp.GradScaler(device, enabled=False)
    chunk = None if choice is not None and choice.whole_batch_loss else CHUNK_TOKENS
    _, step = training.build_step(model, chunk, graphed, optimizer, scheduler, scaler, params, accelerator,
                                  BATCH * MAX_LENGTH, PAD_ID, 0)
    chosen = {"kernels": ran, "checkpointed_layers": len(modeling.decoder_layers(model)) if on and layers is None
              else (layers if on else 0), "choice": None if choice is None else choice.to_dict()}
    return step, batches, chosen


def run_pipeline(path: Path, data: list[list[int]], device: str, warmup: int, steps: int,
                 checkpointing: bool | str = True, kernels: str = "torch",
                 cuda_graphs: bool | str = "auto") -> dict[str, Any]:
    """Time envdoctor.pipeline's step (:func:`pipeline_step`) over ``warmup + steps`` micro-batches."""
    step, batches, chosen = pipeline_step(path, data, device, warmup + steps, checkpointing, kernels, cuda_graphs)
    _reset(device)
    times, tokens = [], []
    for batch in batches:
        _sync(device)
        start = time.perf_counter()
        step([batch])
        _sync(device)
        times.append(time.perf_counter() - start)
        tokens.append(batch.real_tokens)
    out = _summary(times, tokens, warmup, device, slots=0)
    out.update(cuda_graphs=getattr(step, "captured", False), graphs_failure=getattr(step, "failure", None), **chosen)
    return out


def run_seed(path: Path, data: list[list[int]], device: str, warmup: int, steps: int) -> dict[str, Any]:
    """The seeds' loop: prepare_model_for_kbit_training, pad every sample to 512, full logits."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=dtype)
    model = AutoModelForCausalLM.from_pretrained(str(path), quantization_config=quant, dtype=dtype,
                                                 device_map={"": 0} if device == "cuda" else {"": "cpu"})
    model = prepare_model_for_kbit_training(model)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05,
                                             target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.config.use_cache = False
    model.train()  # as HF Trainer does: checkpointing and dropout act only in training mode
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=0.0)
    _reset(device)
    times, tokens = [], []
    for i in range(warmup + steps):
        rows = data[i * BATCH:(i + 1) * BATCH]
        ids = torch.tensor([r + [PAD_ID] * (MAX_LENGTH - len(r)) for r in rows], device=device)
        mask = (ids != PAD_ID).long()
        labels = ids.masked_fill(mask == 0, -100)
        _sync(device)
        start = time.perf_counter()
        with torch.autocast(device, dtype=dtype, enabled=device == "cuda"):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)
        times.append(time.perf_counter() - start)
        tokens.append(int(mask.sum()))
    return _summary(times, tokens, warmup, device, slots=BATCH * MAX_LENGTH)


def run_trl(path: Path, data: list[list[int]], device: str, warmup: int, steps: int, checkpointing: bool = True,
            liger: bool = False) -> dict[str, Any]:
    """TRL's SFTTrainer with packing=True (padding-free BFD), LoRA through peft_config."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=dtype)
    model = AutoModelForCausalLM.from_pretrained(str(path), quantization_config=quant, dtype=dtype,
                                                 device_map={"": 0} if device == "cuda" else {"": "cpu"})
    tokenizer = modeling.load_tokenizer(str(path), None, False)
    times: list[float] = []
    tokens: list[int] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
            _sync(device)
            self.start = time.perf_counter()

        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            _sync(device)
            times.append(time.perf_counter() - self.start)

    config = SFTConfig(output_dir="/tmp/trl-bench", packing=True, max_length=MAX_LENGTH,
                       per_device_train_batch_size=BATCH, gradient_checkpointing=checkpointing,
                       use_liger_kernel=liger, bf16=device == "cuda",
                       learning_rate=LR, max_steps=warmup + steps, logging_steps=1000, report_to=[],
                       save_strategy="no", pad_to_multiple_of=64, dataloader_num_workers=0,
                       use_cpu=device == "cpu", seed=0, lr_scheduler_type="linear", warmup_steps=0)
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_dict({"input_ids": data}),
                         processing_class=tokenizer,
                         peft_config=LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05,
                                                target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
                         callbacks=[Timer()])
    collate = trainer.data_collator

    def counting(features: Any) -> Any:
        batch = collate(features)
        tokens.append(int((batch["input_ids"] != PAD_ID).sum()))
        return batch

    trainer.data_collator = counting
    _reset(device)
    trainer.train()
    del trainer
    n = min(len(times), len(tokens))
    return _summary(times[:n], tokens[:n], warmup, device, slots=0)


CONTENDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "pipeline-lean": run_pipeline,
    "pipeline-auto": lambda *a: run_pipeline(*a, checkpointing="auto"),
    "trl": run_trl,
    "trl-nockpt": lambda *a: run_trl(*a, checkpointing=False),
    "trl-liger": lambda *a: run_trl(*a, liger=True),
    "trl-liger-nockpt": lambda *a: run_trl(*a, checkpointing=False, liger=True),
    "pipeline-lean-eager": lambda *a: run_pipeline(*a, cuda_graphs=False),
    "pipeline-auto-eager": lambda *a: run_pipeline(*a, checkpointing="auto", cuda_graphs=False),
    "pipeline-lean-liger": lambda *a: run_pipeline(*a, kernels="liger"),
    "pipeline-auto-liger": lambda *a: run_pipeline(*a, checkpointing="auto", kernels="liger"),
    "seed": run_seed,
}
DEFAULT_CONTENDERS = [name for name in CONTENDERS if name != "seed"]


def versions() -> dict[str, Any]:
    """Versions of everything the figures depend on, and the GPU and driver."""
    out: dict[str, Any] = {"python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "trl", "datasets", "liger-kernel"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["cuda"] = torch.version.cuda
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name()
        try:
            out["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                           capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out["driver"] = None
    return out


def main() -> None:
    """Run the grid; print one line per measurement and a ratio table; write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["7b", "1b"], choices=sorted(MODELS))
    parser.add_argument("--contenders", nargs="+", default=DEFAULT_CONTENDERS, choices=list(CONTENDERS))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=6)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models-dir", type=Path, default=Path("/tmp/envdoctor-bench-models"))
    parser.add_argument("--budget-s", type=float, default=1e9, help="skip contenders after this much wall time")
    parser.add_argument("--out", type=Path, default=Path("pipeline_throughput.json"))
    args = parser.parse_args()
    began = time.perf_counter()
    report: dict[str, Any] = {"versions": versions(), "settings": {"batch": BATCH, "max_length": MAX_LENGTH,
                              "lora": "r8 q_proj,v_proj", "warmup": args.warmup, "steps": args.steps},
                              "results": []}
    print(json.dumps(report["versions"]), flush=True)
    for model_name in args.models:
        vocab = MODELS[model_name]["vocab_size"]
        data = samples(BATCH * (args.warmup + args.steps) * 4, vocab)
        path = materialise(model_name, args.models_dir / model_name, args.device)
        for round_ in range(1, args.rounds + 1):
            if round_ > 1 and time.perf_counter() - began > args.budget_s:
                print(f"# {model_name}: round {round_} skipped (budget)", flush=True)
                break
            for name in args.contenders:
                if time.perf_counter() - began > args.budget_s:
                    print(f"# {model_name} {name}: skipped (budget)", flush=True)
                    continue
                load_start = time.perf_counter()
                try:
                    result = CONTENDERS[name](path, data, args.device, args.warmup, args.steps)
                except Exception as exc:  # a peer that cannot run here is reported, not fatal
                    result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                result.update(model=model_name, contender=name, round=round_,
                              total_s=time.perf_counter() - load_start)
                report["results"].append(result)
                _reset(args.device)
                print(json.dumps(result), flush=True)
                args.out.write_text(json.dumps(report, indent=2))
    print_table(report["results"])


def medians(results: list[dict[str, Any]], model: str) -> dict[str, dict[str, Any]]:
    """The median-throughput result of each contender that ran on ``model``."""
    rows = {}
    for name in dict.fromkeys(r["contender"] for r in results):
        ok = sorted((r for r in results if r["model"] == model and r["contender"] == name and "error" not in r),
                    key=lambda r: r["useful_tok_s"])
        if ok:
            rows[name] = ok[len(ok) // 2]
    return rows


def issue_ratios(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Issue 16's two ratios: lean vs the best TRL variant using no more memory; auto vs the fastest TRL."""
    trl = {n: r for n, r in rows.items() if n.startswith("trl")}
    out: dict[str, Any] = {}
    for name in ("pipeline-lean", "pipeline-lean-liger"):
        lean = rows.get(name)
        if not lean or not trl:
            continue
        within = {n: r for n, r in trl.items() if r.get("peak_reserved_gib", 0) <= lean.get("peak_reserved_gib", 0) * 1.02}
        if within:
            best = max(within, key=lambda n: within[n]["useful_tok_s"])
            out[f"{name}_vs_trl_within_its_memory"] = (best, lean["useful_tok_s"] / within[best]["useful_tok_s"])
        else:  # every TRL variant needs more memory: the leanest one is the nearest peer
            leanest = min(trl, key=lambda n: trl[n].get("peak_reserved_gib", 0))
            out[f"{name}_vs_leanest_trl_(all_use_more_memory)"] = (leanest, lean["useful_tok_s"]
                                                                   / trl[leanest]["useful_tok_s"])
    for auto in ("pipeline-auto", "pipeline-auto-liger"):
        if auto in rows and trl:
            fastest = max(trl, key=lambda n: trl[n]["useful_tok_s"])
            out[f"{auto}_vs_fastest_trl"] = (fastest, rows[auto]["useful_tok_s"] / trl[fastest]["useful_tok_s"])
    return out


def print_table(results: list[dict[str, Any]]) -> None:
    """Median per (model, contender), ratios to the lean pipeline and issue 16's two ratios."""
    print(f"\n{'model':<5} {'contender':<20} {'useful tok/s':>12} {'step s':>7} {'tok/step':>8} "
          f"{'peak res GiB':>12} {'vs lean':>8}")
    for model in dict.fromkeys(r["model"] for r in results):
        rows = medians(results, model)
        base = rows.get("pipeline-lean", {}).get("useful_tok_s")
        for name, r in rows.items():
            ratio = f"{r['useful_tok_s'] / base:.2f}x" if base else "-"
            print(f"{model:<5} {name:<20} {r['useful_tok_s']:>12,.0f} {r['step_s']:>7.3f} "
                  f"{r['useful_tokens_per_step']:>8.0f} {r.get('peak_reserved_gib', float('nan')):>12.2f} {ratio:>8}")
        for key, (peer, ratio) in issue_ratios(rows).items():
            print(f"{model:<5} {key}: {ratio:.2f}x ({peer})")


if __name__ == "__main__":
    sys.exit(main())
