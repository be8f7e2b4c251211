"""``train.gradient_checkpointing: auto``: the fastest checkpointing that fits."""

from __future__ import annotations

from dataclasses import replace

from tests.helpers.memory import config

from envdoctor.memory.estimate import TrainingPlan, estimate
from envdoctor.memory.headroom import WARN_SHARE, choose_checkpointing
from envdoctor.memory.shapes import shape_from_config

SHAPE = shape_from_config(config("deepseek-llm-7b"), "deepseek-llm-7b")
PLAN = TrainingPlan(batch_size=4, max_length=512)


def _peak(layers: int) -> float:
    return estimate(SHAPE, replace(PLAN, gradient_checkpointing=layers > 0, checkpoint_layers=layers)).peak_mib


def test_memory_falls_with_each_checkpointed_layer() -> None:
    peaks = [_peak(k) for k in range(SHAPE.layers + 1)]
    assert all(a > b for a, b in zip(peaks, peaks[1:]))


def test_a_roomy_gpu_turns_checkpointing_off_and_the_loss_into_one_chunk() -> None:
    choice = choose_checkpointing(SHAPE, PLAN, 80 * 1024)
    whole = estimate(SHAPE, replace(PLAN, gradient_checkpointing=False, loss_chunk_tokens=PLAN.tokens)).peak_mib
    assert choice.layers == 0 and choice.whole_batch_loss and "one chunk" in choice.reason
    assert choice.predicted_mib == whole > _peak(0)


def test_just_enough_room_for_no_checkpointing_keeps_the_loss_chunked() -> None:
    whole = estimate(SHAPE, replace(PLAN, gradient_checkpointing=False, loss_chunk_tokens=PLAN.tokens)).peak_mib
    choice = choose_checkpointing(SHAPE, PLAN, (_peak(0) + whole) / 2 / WARN_SHARE)
    assert choice.layers == 0 and not choice.whole_batch_loss and choice.predicted_mib == _peak(0)


def test_between_the_two_it_checkpoints_just_enough_layers() -> None:
    budget = (_peak(0) + _peak(SHAPE.layers)) / 2 / WARN_SHARE
    choice = choose_checkpointing(SHAPE, PLAN, budget)
    assert 0 < choice.layers < SHAPE.layers
    assert _peak(choice.layers) <= WARN_SHARE * budget < _peak(choice.layers - 1)
    assert f"{choice.layers} of {SHAPE.layers} layers" in choice.reason


def test_a_gpu_too_small_for_any_keeps_checkpointing_on_and_says_so() -> None:
    choice = choose_checkpointing(SHAPE, PLAN, 4 * 1024)
    assert choice.layers == SHAPE.layers and "exceeds" in choice.reason
