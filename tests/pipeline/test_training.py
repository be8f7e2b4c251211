"""Packing, the chunked loss and one optimizer step on a real NF4 tiny Llama (bitsandbytes on CPU)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("bitsandbytes")

from envdoctor.pipeline import batching, launch, modeling, training  # noqa: E402
from envdoctor.pipeline.loss import ChunkedCausalLMLoss  # noqa: E402

SAMPLES = [{"instruction": "分析以下财经快讯对市场的影响", "input": "美联储宣布加息25个基点" * k,
            "output": "利空消息" * (k + 1)} for k in (1, 3, 2)]


def _per_sequence_losses(model: Any, batch: batching.Batch, lengths: list[int]) -> list[float]:
    inputs = batch.tensors("cpu")
    with torch.no_grad():
        logits = model(input_ids=inputs["input_ids"], position_ids=inputs["position_ids"]).logits[0]
    labels = inputs["labels"][0]
    out, start = [], 0
    for n in lengths:
        piece_logits, piece_labels = logits[start:start + n - 1], labels[start + 1:start + n]
        out.append(torch.nn.functional.cross_entropy(piece_logits, piece_labels, ignore_index=-100).item())
        start += n
    return out


def test_packed_row_gives_each_sequence_its_unpacked_loss(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    examples = batching.tokenize(SAMPLES, tokenizer, 512)
    lengths = [len(e.input_ids) for e in examples]
    packed = batching.best_fit_bins(examples, capacity=4096)
    assert len(packed) == 1
    row = batching._packed_batch(examples, tokenizer.pad_token_id)
    assert len(row.input_ids[0]) % batching.PAD_MULTIPLE == 0 and row.real_tokens == sum(lengths)
    alone = [_per_sequence_losses(model, batching._packed_batch([e], tokenizer.pad_token_id), [n])[0]
             for e, n in zip(examples, lengths, strict=True)]
    together = _per_sequence_losses(model, row, lengths)
    assert together == pytest.approx(alone, rel=1e-4)  # fp32 GEMMs of other shapes round differently
    # Without restarting positions the sequences see each other: the losses differ.
    leaky = batching.Batch(row.input_ids, row.labels, [list(range(len(row.input_ids[0])))], None,
                           row.real_tokens, row.target_tokens)
    assert _per_sequence_losses(model, leaky, lengths)[1:] != pytest.approx(alone[1:], abs=1e-3)


@pytest.mark.parametrize("chunk", [5, None])  # None: one chunk, logits kept (what auto picks with room)
def test_chunked_loss_matches_full_logits_loss_and_gradient(tiny: tuple[Any, Any], chunk: int | None) -> None:
    model, tokenizer = tiny
    batch = batching._packed_batch(batching.tokenize(SAMPLES, tokenizer, 512), tokenizer.pad_token_id)
    inputs = batch.tensors("cpu")
    head = model.get_output_embeddings().weight
    head.requires_grad_(True)
    try:
        summed, count = ChunkedCausalLMLoss(model, chunk_tokens=chunk)(**inputs)
        (chunked_grad,) = torch.autograd.grad(summed / count, head)
        logits = model(input_ids=inputs["input_ids"], position_ids=inputs["position_ids"]).logits[0, :-1]
        full = torch.nn.functional.cross_entropy(logits.float(), inputs["labels"][0, 1:], ignore_index=-100)
        (full_grad,) = torch.autograd.grad(full, head)
    finally:
        head.requires_grad_(False)
    assert count.item() == batch.target_tokens
    assert (summed / count).item() == pytest.approx(full.item(), rel=1e-5)
    assert torch.allclose(chunked_grad, full_grad, atol=1e-6)


def test_grouped_batches_pad_to_a_multiple_of_64_not_to_max_length(tiny: tuple[Any, Any]) -> None:
    _, tokenizer = tiny
    examples = batching.tokenize(SAMPLES, tokenizer, 512)
    batches = batching.epoch_batches(examples, 2, 512, packing=False, pad_id=0, seed=1, epoch=0)
    widths = {len(row) for b in batches for row in b.input_ids}
    assert all(w % 64 == 0 and w < 512 for w in widths)
    assert sum(b.real_tokens for b in batches) == sum(len(e.input_ids) for e in examples)


def test_a_step_changes_the_adapter_and_not_the_4bit_base(tmp_path: Path) -> None:
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    path = modeling.materialise_builtin("tiny-llama", tmp_path / "tiny", seed=1)
    tokenizer = modeling.load_tokenizer(str(path), None, False)
    base = modeling.load_quantized(str(path), modeling.Precision("fp32", "test"), "cpu", "sdpa")
    model = modeling.attach_lora(base, 4, 8, 0.0, ("q_proj", "v_proj"), gradient_checkpointing=True)
    assert model.training
    linear = model.base_model.model.model.layers[0].self_attn.q_proj.base_layer
    assert type(linear).__name__ == "Linear4bit" and linear.weight.quant_state.quant_type == "nf4"
    assert linear.weight.quant_state.nested  # double quantisation
    assert model.get_output_embeddings().weight.dtype == torch.float32  # compute dtype; no extra upcast
    frozen = {k: v.clone() for k, v in model.state_dict().items() if "lora_" not in k}
    lora = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert lora and all("lora_" in n for n in lora)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = training.make_optimizer("adamw_torch", params, 1e-2)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, 2)
    batch = batching._packed_batch(batching.tokenize(SAMPLES, tokenizer, 512), tokenizer.pad_token_id)
    for _ in range(2):
        loss = training.optimizer_step(ChunkedCausalLMLoss(model), [batch], optimizer, scheduler,
                                       torch.amp.GradScaler("cpu", enabled=False), params, Accelerator(cpu=True))
        assert loss > 0
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in frozen.items())
    changed = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, lora[n])]
    assert any("lora_B" in n for n in changed) and any("lora_A" in n for n in changed)


def test_several_processes_go_through_accelerate_launch() -> None:
    plan = Path("/runs/plan.json")
    single = launch.worker_argv("/venv/bin/python", "train", plan, 1)
    assert single == ["/venv/bin/python", "-m", "envdoctor.pipeline.worker", "train", str(plan)]
    multi = launch.worker_argv("/venv/bin/python", "train", plan, 2)
    assert multi[:3] == ["/venv/bin/python", "-m", "accelerate.commands.launch"]
    assert multi[multi.index("--num_processes") + 1] == "2" and "--multi_gpu" in multi
    assert multi[-4:] == ["-m", "envdoctor.pipeline.worker", "train", str(plan)]
    # Evaluation is one process whatever launch.processes says.
    assert launch.worker_argv("/venv/bin/python", "eval", plan, 2) == [
        "/venv/bin/python", "-m", "envdoctor.pipeline.worker", "eval", str(plan)]


def _train_losses(path: Path, tokenizer: Any, checkpointing: bool, layers: int | None) -> tuple[list[float], dict[str, Any]]:
    """Three optimizer steps of the pipeline's loop; per-step losses and the frozen base's state."""
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    base = modeling.load_quantized(str(path), modeling.Precision("fp32", "test"), "cpu", "sdpa")
    torch.manual_seed(7)  # the same fresh adapters for every variant
    model = modeling.attach_lora(base, 4, 8, 0.0, ("q_proj", "v_proj"), checkpointing, layers)
    recomputing = [getattr(layer, "gradient_checkpointing", False) for layer in modeling.decoder_layers(model)]
    assert sum(recomputing) == (0 if not checkpointing else len(recomputing) if layers is None else layers)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = training.make_optimizer("adamw_torch", params, 1e-2)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, 3)
    batch = batching._packed_batch(batching.tokenize(SAMPLES, tokenizer, 512), tokenizer.pad_token_id)
    losses = [training.optimizer_step(ChunkedCausalLMLoss(model), [batch], optimizer, scheduler,
                                      torch.amp.GradScaler("cpu", enabled=False), params, Accelerator(cpu=True))
              for _ in range(3)]
    frozen = {k: v.clone() for k, v in model.state_dict().items() if "lora_" not in k}
    return losses, frozen


def test_checkpointing_off_or_partial_trains_the_same_losses(tmp_path: Path) -> None:
    """What `gradient_checkpointing: auto` may pick changes speed and memory, not the numbers."""
    path = modeling.materialise_builtin("tiny-llama", tmp_path / "tiny", seed=3)
    tokenizer = modeling.load_tokenizer(str(path), None, False)
    reference, base = _train_losses(path, tokenizer, True, None)
    assert reference[-1] < reference[0]
    for checkpointing, layers in ((False, None), (True, 1)):
        losses, frozen = _train_losses(path, tokenizer, checkpointing, layers)
        assert losses == pytest.approx(reference, rel=1e-5, abs=1e-6)
        assert frozen.keys() == base.keys() and all(torch.equal(frozen[k], base[k]) for k in base)
