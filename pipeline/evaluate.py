"""The eval stage, run inside the child process: held-out loss of base vs adapter, and generations.

Writes ``eval.json`` and ``eval.md`` (a side-by-side table) beside the adapter.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from envdoctor.errors import InputError
from envdoctor.pipeline import batching, data, modeling
from envdoctor.pipeline.loss import ChunkedCausalLMLoss
from envdoctor.pipeline.plan import RunPlan

PROMPTS: tuple[dict[str, str], ...] = (
    {"instruction": data.INSTRUCTIONS["news"], "input": "美联储宣布加息25个基点"},
    {"instruction": data.INSTRUCTIONS["news"], "input": "央行宣布下调存款准备金率0.5个百分点"},
    {"instruction": data.INSTRUCTIONS["earnings"], "input": "比亚迪2024年实现营业收入7771亿元，同比增长29%。"},
)
MAX_NEW_TOKENS = 64
RESULT_FILE = "eval.json"
MARKDOWN_FILE = "eval.md"


def held_out_loss(loss_module: ChunkedCausalLMLoss, batches: list[batching.Batch], device: Any) -> float:
    """Mean per-token loss over ``batches``."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            summed, n = loss_module(**batch.tensors(device))
            total += summed.item()
            count += int(n.item())
    return total / max(count, 1)


def generate(model: Any, tokenizer: Any, prompt: dict[str, str], device: Any) -> str:
    """Greedy continuation of one instruction prompt."""
    import torch

    text = batching.prompt_of(prompt)
    ids = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    ids += tokenizer(text, add_special_tokens=False)["input_ids"]
    inputs = torch.tensor([ids], device=device)
    with torch.no_grad():
        out = model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs), do_sample=False,
                             max_new_tokens=MAX_NEW_TOKENS, use_cache=True,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    return str(tokenizer.decode(out[0, len(ids):], skip_special_tokens=True))


def _markdown(result: dict[str, Any]) -> str:
    lines = ["# Evaluation", "", "| | base | adapter |", "|---|---|---|",
             f"| held-out loss | {result['base']['loss']:.4f} | {result['adapter']['loss']:.4f} |",
             f"| perplexity | {result['base']['perplexity']:.2f} | {result['adapter']['perplexity']:.2f} |",
             "", f"Held-out samples: {result['eval_samples']}.", "", "## Generations (greedy)", ""]
    for item in result["generations"]:
        lines += [f"### {item['input']}", "", "| base | adapter |", "|---|---|",
                  "| {} | {} |".format(*(item[k].replace("|", "\\|").replace("\n", "<br>")
                                        for k in ("base", "adapter"))), ""]
    return "\n".join(lines)


def evaluate(plan: RunPlan) -> dict[str, Any]:
    """Compare base and adapter on the held-out split; write eval.json and eval.md."""
    import torch
    from peft import PeftModel
    from transformers import set_seed

    cfg = plan.config
    device = "cuda" if plan.device != "cpu" and torch.cuda.is_available() else "cpu"
    set_seed(cfg.train.seed)
    if not (plan.adapter_dir / "adapter_config.json").is_file():
        raise InputError(f"{plan.adapter_dir}: no trained adapter; run `envdoctor run --stage train` first")
    precision = modeling.choose_precision(cfg.train.precision, device)
    path = modeling.resolve_model_path(cfg.model.name_or_path, plan.model_cache, cfg.train.seed)
    tokenizer = modeling.load_tokenizer(path, cfg.model.revision, cfg.model.trust_remote_code)
    base = modeling.load_quantized(path, precision, device, cfg.model.attn_implementation,
                                   cfg.model.revision, cfg.model.trust_remote_code)
    model = PeftModel.from_pretrained(base, str(plan.adapter_dir))
    model.eval()
    samples = data.load_split(cfg.data.output, "eval")
    examples = batching.tokenize(samples, tokenizer, cfg.train.max_length)
    batches = batching.epoch_batches(examples, cfg.train.batch_size, cfg.train.max_length, cfg.train.packing,
                                     tokenizer.pad_token_id, cfg.train.seed, 0)
    loss_module = ChunkedCausalLMLoss(model)
    adapter_loss = held_out_loss(loss_module, batches, device)
    adapter_text = [generate(model, tokenizer, p, device) for p in PROMPTS]
    with model.disable_adapter():
        base_loss = held_out_loss(loss_module, batches, device)
        base_text = [generate(model, tokenizer, p, device) for p in PROMPTS]
    result = {"eval_samples": len(examples),
              "base": {"loss": base_loss, "perplexity": math.exp(min(base_loss, 50.0))},
              "adapter": {"loss": adapter_loss, "perplexity": math.exp(min(adapter_loss, 50.0))},
              "generations": [{**p, "base": b, "adapter": a}
                              for p, b, a in zip(PROMPTS, base_text, adapter_text, strict=True)]}
    out: Path = cfg.train.output_dir
    try:
        (out / RESULT_FILE).write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
        (out / MARKDOWN_FILE).write_text(_markdown(result), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{out}: cannot write the evaluation ({exc.strerror}); free space, then "
                         "`envdoctor run --stage eval`") from None
    return result
