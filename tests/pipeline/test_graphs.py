"""CUDA-graph steps: the static loss on CPU (real NF4 tiny Llama), the replayed loop on the GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("bitsandbytes")

from envdoctor.pipeline import batching, graphs, modeling, training  # noqa: E402
from envdoctor.pipeline.loss import ChunkedCausalLMLoss, packed_causal_mask  # noqa: E402

SAMPLES = [{"instruction": "分析以下财经快讯对市场的影响", "input": "美联储宣布加息25个基点" * k,
            "output": "利空消息" * (k + 1)} for k in (1, 3, 2)]
CHOICE = {"device": "cuda", "precision": "bf16", "packing": True, "world": 1, "optimizer": "adamw_torch",
          "attn_implementation": "sdpa"}


def test_auto_turns_graphs_on_only_where_every_part_of_the_step_is_capturable() -> None:
    assert graphs.choose("auto", **CHOICE).on
    assert graphs.choose(True, **CHOICE).reason == "on in the config"
    assert not graphs.choose(False, **CHOICE).on
    assert graphs.choose("auto", **{**CHOICE, "precision": "fp16"}).on  # the scaler's check stays on the device
    for key, value, words in (("device", "cpu", "no CUDA device"),
                              ("packing", False, "train.packing: true"), ("world", 2, "several processes"),
                              ("optimizer", "paged_adamw_8bit", "not capturable"),
                              ("attn_implementation", "flash_attention_2", "use sdpa")):
        choice = graphs.choose("auto", **{**CHOICE, key: value})
        assert not choice.on and words in choice.reason, (key, choice)
    forced = graphs.choose(True, **{**CHOICE, "device": "cpu", "world": 2})
    assert not forced.on and forced.reason.startswith("requested, but no CUDA device; several processes")


def test_static_row_pads_to_capacity_with_its_own_ignored_sequence() -> None:
    batch = batching.Batch([[5, 6, 7]], [[-100, 6, 7]], [[0, 1, 2]], None, 3, 2)
    ids, labels, positions = graphs.static_row(batch, 6, pad_id=0)
    assert (ids, labels, positions) == ([5, 6, 7, 0, 0, 0], [-100, 6, 7, -100, -100, -100], [0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="at most 2 tokens"):
        graphs.static_row(batch, 2, pad_id=0)
    grouped = batching.Batch([[5, 6], [7, 0]], [[5, 6], [7, -100]], [[0, 1], [0, 1]], [[1, 1], [1, 0]], 3, 2)
    with pytest.raises(ValueError, match="one packed row"):
        graphs.static_row(grouped, 8, pad_id=0)


def test_packed_mask_is_block_diagonal_and_causal() -> None:
    mask = packed_causal_mask(torch.tensor([[0, 1, 2, 0, 1, 0]]))[0, 0]
    expected = torch.zeros(6, 6, dtype=torch.bool)
    for start, end in ((0, 3), (3, 5), (5, 6)):
        expected[start:end, start:end] = torch.ones(end - start, end - start, dtype=torch.bool).tril()
    assert torch.equal(mask, expected)


@pytest.mark.parametrize("chunk", [7, None])
def test_static_loss_on_a_padded_row_equals_the_loss_on_targets_only(tiny: tuple[Any, Any], chunk: int | None) -> None:
    """What the graphs replay (every position, the mask built on the device) is the eager loss and gradient."""
    model, tokenizer = tiny
    batch = batching._packed_batch(batching.tokenize(SAMPLES, tokenizer, 512), tokenizer.pad_token_id)
    ids, labels, positions = graphs.static_row(batch, len(batch.input_ids[0]) + 64, tokenizer.pad_token_id)
    padded = {"input_ids": torch.tensor([ids]), "labels": torch.tensor([labels]),
              "position_ids": torch.tensor([positions])}
    head = model.get_output_embeddings().weight
    head.requires_grad_(True)
    try:
        results = []
        for static, inputs in ((False, batch.tensors("cpu")), (True, padded)):
            summed, count = ChunkedCausalLMLoss(model, chunk, static=static)(**inputs)
            (grad,) = torch.autograd.grad(summed, head)
            results.append((summed.item(), count.item(), grad))
    finally:
        head.requires_grad_(False)
    (eager, eager_count, eager_grad), (static, static_count, static_grad) = results
    assert eager_count == static_count == batch.target_tokens
    assert static == pytest.approx(eager, rel=1e-5)
    assert torch.allclose(static_grad, eager_grad, atol=1e-5)


def _cuda_losses(path: Path, tokenizer: Any, cuda_graphs: bool, checkpointing: bool, dropout: float,
                 steps: int, precision_name: str = "bf16") -> tuple[list[float], Any, dict[str, Any]]:
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    precision = modeling.Precision(precision_name, "test")
    base = modeling.load_quantized(str(path), precision, "cuda", "sdpa")
    torch.manual_seed(7)
    model = modeling.attach_lora(base, 4, 8, dropout, ("q_proj", "v_proj"), checkpointing)
    frozen = {k: v.clone() for k, v in model.state_dict().items() if "lora_" not in k}
    params = [p for p in model.parameters() if p.requires_grad]
    choice = graphs.choose(cuda_graphs, **CHOICE)
    optimizer = (graphs.capturable_adamw(params, 1e-3) if choice.on
                 else training.make_optimizer("adamw_torch", params, 1e-3))
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, steps)
    examples = batching.tokenize(SAMPLES * 4, tokenizer, 512)
    batch = batching._packed_batch(examples, tokenizer.pad_token_id)
    scaler = torch.amp.GradScaler("cuda", enabled=precision_name == "fp16")
    _, step = training.build_step(model, 16, choice, optimizer, scheduler, scaler,
                                  params, Accelerator(), batching.round_up(len(batch.input_ids[0]) + 100),
                                  tokenizer.pad_token_id, 0)
    losses = [step([batch]) for _ in range(steps)]
    return losses, step, {k: torch.equal(v, model.state_dict()[k]) for k, v in frozen.items()}


@pytest.mark.gpu
@pytest.mark.parametrize(("checkpointing", "precision"), [(False, "bf16"), (True, "bf16"), (True, "fp16")])
def test_replayed_steps_train_the_eager_losses_and_leave_the_base_bitwise_equal(tmp_path: Path, checkpointing: bool,
                                                                                 precision: str) -> None:
    """fp16 goes through the gradient scaler: its first updates overflow and are skipped in both loops."""
    path = modeling.materialise_builtin("tiny-llama", tmp_path / "tiny", seed=3)
    tokenizer = modeling.load_tokenizer(str(path), None, False)
    eager, eager_step, _ = _cuda_losses(path, tokenizer, False, checkpointing, 0.0, 8, precision)
    replayed, step, unchanged = _cuda_losses(path, tokenizer, True, checkpointing, 0.0, 8, precision)
    assert isinstance(step, graphs.GraphedStep) and step.captured, step.failure
    assert not isinstance(eager_step, graphs.GraphedStep)
    assert replayed == pytest.approx(eager, rel=2e-2)  # bf16; fused vs foreach AdamW round differently
    assert replayed[-1] < replayed[0]
    assert all(unchanged.values())


@pytest.mark.gpu
def test_replayed_steps_with_dropout_and_checkpointing_capture_and_learn(tmp_path: Path) -> None:
    path = modeling.materialise_builtin("tiny-llama", tmp_path / "tiny", seed=3)
    tokenizer = modeling.load_tokenizer(str(path), None, False)
    losses, step, unchanged = _cuda_losses(path, tokenizer, True, True, 0.1, 8)
    assert step.captured, step.failure
    assert losses[-1] < losses[0] and all(unchanged.values())
